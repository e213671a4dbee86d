"""Import in big staged batches (issue 14 item 6), on SQLite and PostgreSQL: a row the
database refuses costs only itself, batch boundaries do not change the outcome, and a big
import shows its progress on a terminal; a timestamp cell reads the same through the cache
of offsets as without it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from pathlib import Path

import peewee
import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.db import is_postgres
from store.export import BASE_COLUMNS, write_csv
from store.importer import RowError, import_csv, parse_timestamp
from store.models import Block, BlockHistory, Client, Variable
from store.setup import sync_bots
from tests.factories import block_name, block_path
from tests.terminal import switchboard_on_a_terminal

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")
HEADER = ",".join([*BASE_COLUMNS, "Город"])


def row(n: int, name: str) -> str:
    return f",{name},telegram,shop_tg,{n},2024-01-0{n % 9 + 1}T10:00:00+03:00,,,B{n},A > B{n},,C{n}"


def do_import(text: str, batch_size: int):  # type: ignore[no-untyped-def]
    return import_csv(io.StringIO(text, newline=""), MOSCOW, batch_size=batch_size)


@pytest.fixture
def store(db: peewee.Database) -> peewee.Database:
    sync_bots([("shop_tg", "telegram")])
    return db


def refuse_a_name(database: peewee.Database, name: str) -> None:
    """A trigger that makes the database itself refuse a client named ``name``."""
    if is_postgres(database):
        database.execute_sql(
            "CREATE FUNCTION refuse_name() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.name = '{name}' THEN RAISE EXCEPTION 'this name is refused'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        database.execute_sql(
            "CREATE TRIGGER refuse_name BEFORE INSERT ON client "
            "FOR EACH ROW EXECUTE FUNCTION refuse_name()"
        )
    else:
        database.execute_sql(
            f"CREATE TRIGGER refuse_name BEFORE INSERT ON client WHEN NEW.name = '{name}' "
            "BEGIN SELECT RAISE(ABORT, 'this name is refused'); END"
        )


def test_a_refused_row_costs_only_itself_in_a_big_batch(store: peewee.Database) -> None:
    refuse_a_name(store, "refuse me")
    names = [f"client {n}" for n in range(1, 10)]
    names[4] = "refuse me"  # line 6
    text = "\r\n".join([HEADER, *(row(n, name) for n, name in enumerate(names, 1))]) + "\r\n"
    report = do_import(text, batch_size=4)
    assert (report.created, report.updated, report.error_count) == (8, 0, 1)
    assert report.errors[0].line == 6
    assert report.errors[0].reason.startswith("the database refused the row:")
    assert "this name is refused" in report.errors[0].reason
    stored = {c.messenger_id: c for c in Client.select()}
    assert sorted(stored, key=int) == ["1", "2", "3", "4", "6", "7", "8", "9"]
    # Nothing of the refused row: not its block, history or variable; all of the others.
    assert sorted(b.name for b in Block.select()) == sorted(["A", *(f"B{n}" for n in stored)])
    assert BlockHistory.select().count() == 2 * 8
    assert sorted(v.value for v in Variable.select()) == sorted(f"C{n}" for n in stored)
    assert block_name(stored["9"]) == "B9" and stored["9"].name == "client 9"


def export(database: peewee.Database) -> list[list[str]]:
    out = io.StringIO(newline="")
    write_csv(Client.select(), out, MOSCOW)
    header, *rows = csv.reader(io.StringIO(out.getvalue(), newline=""))
    return [header[1:], *sorted(r[1:] for r in rows)]


@pytest.mark.parametrize("batch_size", [1, 3, 5000])
def test_batch_boundaries_do_not_change_the_outcome(
    store: peewee.Database, batch_size: int
) -> None:
    lines = [HEADER, *(row(n, f"client {n}") for n in range(1, 8))]
    lines.append(",renamed,,shop_tg,3,,,,,,,")  # the same client again: an update, cells kept
    lines.append(",,,shop_tg,5,,,https://a/5.png,Z,Z,t,Москва")  # empty name: kept
    report = do_import("\r\n".join(lines) + "\r\n", batch_size)
    assert (report.created, report.updated, report.error_count) == (7, 2, 0)
    three = Client.get(Client.messenger_id == "3")
    five = Client.get(Client.messenger_id == "5")
    assert (three.name, block_name(three), three.tag) == ("renamed", "B3", None)
    assert block_path(three) == [
        "A",
        "B3",
    ]
    assert (five.name, five.avatar_url, block_name(five), five.tag) == (
        "client 5",
        "https://a/5.png",
        "Z",
        "t",
    )
    assert block_path(five) == ["Z"]
    assert Variable.get(Variable.client == five).value == "Москва"
    first = export(store)
    again = do_import("\r\n".join(lines) + "\r\n", batch_size)
    assert (again.created, again.updated) == (0, 9)
    assert export(store) == first


def test_a_big_import_shows_its_progress_on_a_terminal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'big.db'}"
    (tmp_path / "config.yaml").write_text(
        f'database_url: "{url}"\nbots:\n  - {{name: shop_tg, kind: telegram, enabled: false}}\n'
    )
    rows = 10_001
    (tmp_path / "big.csv").write_text(
        "\n".join([HEADER, *(row(n, f"c{n}") for n in range(1, rows + 1))]) + "\n",
        encoding="utf-8",
    )
    config = ["--config", str(tmp_path / "config.yaml")]
    code, _ = switchboard_on_a_terminal(tmp_path, [*config, "migrate"], "")
    assert code == 0
    code, shown = switchboard_on_a_terminal(
        tmp_path, [*config, "clients", "import", "big.csv"], "y"
    )
    assert code == 0, shown
    assert f"/{rows}" in shown and "import" in shown  # rich's bar: done/total
    assert f"imported {rows} new, 0 updated, 0 row(s) with errors" in shown


def test_broken_csv_after_some_batches_keeps_them_and_names_the_line(
    store: peewee.Database,
) -> None:
    good = [row(n, f"client {n}") for n in range(1, 6)]  # lines 2-6
    huge = f",{'x' * 200_000},telegram,shop_tg,99,,,,,,,"  # line 7: beyond csv's field limit
    text = "\r\n".join([HEADER, *good, huge, row(8, "never read")]) + "\r\n"
    report = do_import(text, batch_size=2)
    assert (report.created, report.error_count) == (5, 1)
    assert report.errors[0].line == 7
    assert report.errors[0].reason.startswith("not valid CSV (field larger than field limit")
    assert "the rest of the file was not read" in report.errors[0].reason
    assert Client.select().count() == 5


@given(
    moment=st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
    minutes=st.integers(-(23 * 60 + 59), 23 * 60 + 59),
)
def test_timestamps_read_the_same_through_the_offset_cache(
    moment: dt.datetime, minutes: int
) -> None:
    sign = "+" if minutes >= 0 else "-"
    offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    text = moment.replace(microsecond=0).isoformat() + offset
    expected = dt.datetime.fromisoformat(text).astimezone(dt.UTC).replace(tzinfo=None)
    assert parse_timestamp(text, MOSCOW) == expected
    assert parse_timestamp(text, MOSCOW) == expected  # the offset is known now
    broken = text[:8] + "32" + text[10:]  # day 32, with an offset the cache knows
    with pytest.raises(RowError, match="is not an ISO 8601 date and time"):
        parse_timestamp(broken, MOSCOW)
