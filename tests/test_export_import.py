"""Client export (CSV, XLSX) and import (CSV) on SQLite and PostgreSQL: columns, time zone,
round trip, errors by line number, Cyrillic, and a property-based round trip."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from pathlib import Path

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.errors import StoreError
from store.export import BASE_COLUMNS, iter_export_rows, write_csv, write_xlsx
from store.importer import ImportFormatError, import_csv
from store.inbound import set_variable
from store.models import Block, BlockHistory, Bot, Client, Variable
from store.setup import sync_bots
from tests.factories import block_name, block_path

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")
BOTS = [("shop_tg", "telegram"), ("shop_wa", "whatsapp"), ("shop_mail", "email")]


def _bot(name: str) -> Bot:
    return Bot.get(Bot.name == name)


def _block(name: str) -> Block:
    return Block.get_or_create(name=name)[0]


def make_client(
    bot: str,
    messenger_id: str,
    name: str,
    *,
    created: dt.datetime = dt.datetime(2023, 5, 22, 20, 59),
    last: dt.datetime | None = None,
    avatar: str | None = None,
    history: tuple[str, ...] = (),
    tag: str | None = None,
    variables: dict[str, str] | None = None,
) -> Client:
    client = Client.create(
        bot=_bot(bot),
        messenger_id=messenger_id,
        name=name,
        created_at=created,
        last_action_at=last or created,
        avatar_url=avatar,
        tag=tag,
        block=_block(history[-1]) if history else None,
    )
    for step, entered in enumerate(history):
        BlockHistory.create(
            client=client, block=_block(entered), entered_at=created + dt.timedelta(minutes=step)
        )
    for var_name, value in (variables or {}).items():
        set_variable(client.id, var_name, value)
    return client


def export_text(query: peewee.ModelSelect[Client] | None = None, *, batch_size: int = 2) -> str:
    out = io.StringIO(newline="")
    write_csv(query if query is not None else Client.select(), out, MOSCOW, batch_size=batch_size)
    return out.getvalue()


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def without_ids(text: str) -> list[list[str]]:
    header, *rows = rows_of(text)
    return [header[1:], *sorted(row[1:] for row in rows)]


def wipe() -> None:
    Client.delete().execute()
    Block.delete().execute()


def do_import(text: str, **kwargs: object):  # type: ignore[no-untyped-def]
    return import_csv(io.StringIO(text, newline=""), MOSCOW, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def store(db: peewee.Database) -> peewee.Database:
    sync_bots(BOTS)
    return db


def test_csv_has_the_eleven_columns_in_order_then_sorted_variables(store: peewee.Database) -> None:
    anna = make_client(
        "shop_tg",
        "7771988777",
        "Анна, «Мария»",
        created=dt.datetime(2023, 5, 22, 20, 59, 30, 123456),
        last=dt.datetime(2023, 6, 1, 9, 0),
        avatar="https://t.me/i/userpic/1.jpg",
        history=("Приветствие", "Каталог", "Оплата"),
        tag="vip",
        variables={"Размер": "XS", "Цена": "1 000", "a": 'say "hi"\nbye'},
    )
    bob = make_client("shop_wa", "79991234567", "Bob", variables={"Цена": "5"})
    rows = rows_of(export_text())
    assert rows[0] == [*BASE_COLUMNS, "a", "Размер", "Цена"]
    assert rows[0][:11] == [
        "client_id",
        "name",
        "messenger",
        "bot",
        "messenger_id",
        "first_contact_at",
        "last_action_at",
        "avatar_url",
        "block",
        "block_history",
        "tag",
    ]
    assert rows[1] == [
        str(anna.id),
        "Анна, «Мария»",
        "telegram",
        "shop_tg",
        "7771988777",
        "2023-05-22T23:59:30+03:00",
        "2023-06-01T12:00:00+03:00",
        "https://t.me/i/userpic/1.jpg",
        "Оплата",
        "Приветствие > Каталог > Оплата",
        "vip",
        'say "hi"\nbye',
        "XS",
        "1 000",
    ]
    assert rows[2][:5] == [str(bob.id), "Bob", "whatsapp", "shop_wa", "79991234567"]
    assert rows[2][8:] == ["", "", "", "", "", "5"]
    assert len(rows) == 3


def test_export_follows_the_query_and_batches_by_id(store: peewee.Database) -> None:
    for n in range(7):
        make_client("shop_tg", f"id{n}", f"Ксения {n}" if n % 2 else f"Olga {n}")
    query = Client.select().where(Client.name.startswith("Ксения"))
    rows = rows_of(export_text(query, batch_size=2))
    assert [r[1] for r in rows[1:]] == ["Ксения 1", "Ксения 3", "Ксения 5"]
    batches = list(iter_export_rows(Client.select(), MOSCOW, batch_size=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    ids = [row.base[0] for batch in batches for row in batch]
    assert ids == sorted(ids) and len(set(ids)) == 7


def test_export_of_a_joined_query_lists_each_client_once(store: peewee.Database) -> None:
    make_client("shop_tg", "1", "A", variables={"x": "1", "y": "2"})
    make_client("shop_tg", "2", "B", variables={"x": "1"})
    joined = Client.select().join(Variable).where(Variable.value == "1")
    rows = rows_of(export_text(joined, batch_size=1))
    assert [r[1] for r in rows[1:]] == ["A", "B"]


def test_round_trip_into_an_empty_database_gives_the_same_rows(store: peewee.Database) -> None:
    make_client(
        "shop_tg",
        "100",
        "Ксения Петрова",
        created=dt.datetime(2021, 4, 19, 21, 0),
        history=("Приветствие", "Оплата"),
        tag="горячий",
        variables={"Размер": "XS", "Город": "Москва, центр"},
    )
    make_client("shop_wa", "79990001122", "", avatar="https://x/y.png")
    make_client("shop_mail", "anna@example.com", 'Anna "A" O\'Neil\r\nline2')
    first = export_text()
    wipe()
    report = do_import(first)
    assert (report.created, report.updated, report.errors) == (3, 0, [])
    second = export_text()
    assert without_ids(second) == without_ids(first)
    # Importing the same file again updates, never duplicates.
    again = do_import(second)
    assert (again.created, again.updated) == (0, 3)
    assert Client.select().count() == 3
    assert BlockHistory.select().count() == 2
    assert without_ids(export_text()) == without_ids(first)


def test_bad_rows_are_reported_by_line_and_good_rows_are_kept(store: peewee.Database) -> None:
    header = ",".join([*BASE_COLUMNS, "Размер"])
    lines = [
        header,
        ",Ксения,telegram,shop_tg,1,2021-04-19T10:00:00+03:00,,,,,,XS",  # 2 ok
        ",Bob,telegram,nope_bot,2,,,,,,,",  # 3 unknown bot
        ',"multi\nline",telegram,shop_tg,3,,,,,,,M',  # 4-5 ok, record spans two lines
        ",Bad date,telegram,shop_tg,4,22.05.2023,,,,,,",  # 6 bad date
        ",Wrong kind,whatsapp,shop_tg,5,,,,,,,",  # 7 messenger does not match the bot
        ",No id,telegram,shop_tg,,,,,,,,",  # 8 empty messenger id
        ",Short,telegram,shop_tg,6",  # 9 too few fields
        ",,email,,7,,,,,,,",  # 10 empty bot
        ",Last,email,shop_mail,z@example.com,2023-05-22 23:59,,,,A > B,,L",  # 11 ok, no offset
    ]
    report = do_import("\r\n".join(lines) + "\r\n")
    assert report.created == 3
    assert [(e.line, e.reason.split(" ")[0]) for e in report.errors] == [
        (3, "bot"),
        (6, "'22.05.2023'"),
        (7, "messenger"),
        (8, "messenger_id"),
        (9, "5"),
        (10, "bot"),
    ]
    assert "nope_bot" in str(report.errors[0]) and str(report.errors[0]).startswith("line 3:")
    assert report.error_count == 6
    assert sorted(c.name for c in Client.select(Client.name)) == ["Last", "multi\nline", "Ксения"]
    last = Client.get(Client.name == "Last")
    assert last.created_at == dt.datetime(2023, 5, 22, 20, 59)  # 23:59 Moscow in UTC
    assert block_path(last) == [
        "A",
        "B",
    ]
    assert Variable.get(Variable.client == Client.get(Client.name == "Ксения")).value == "XS"


def test_bot_must_be_configured(store: peewee.Database) -> None:
    text = (
        ",".join(BASE_COLUMNS)
        + "\r\n,A,telegram,shop_tg,1,,,,,,\r\n,B,email,shop_mail,b@x,,,,,,\r\n"
    )
    report = do_import(text, bots=["shop_mail"])
    assert report.created == 1
    assert [e.line for e in report.errors] == [2]
    assert "not a configured bot" in report.errors[0].reason


def test_an_existing_client_is_updated_and_empty_cells_keep_its_values(
    store: peewee.Database,
) -> None:
    client = make_client(
        "shop_tg", "42", "Old", avatar="https://a", tag="t", variables={"Цена": "1"}
    )
    text = ",".join([*BASE_COLUMNS, "Цена", "Новая"]) + "\r\n,New,,shop_tg,42,,,,Оплата,,,,да\r\n"
    report = do_import(text)
    assert (report.created, report.updated, report.errors) == (0, 1, [])
    fresh = Client.get_by_id(client.id)
    assert (fresh.name, fresh.avatar_url, fresh.tag) == ("New", "https://a", "t")
    assert fresh.created_at == client.created_at
    assert block_name(fresh) == "Оплата"
    assert {v.name: v.value for v in Variable.select()} == {
        "Цена": "1",
        "Новая": "да",
    }


def test_a_client_twice_in_one_file_ends_with_the_later_row(store: peewee.Database) -> None:
    text = (
        ",".join(BASE_COLUMNS)
        + "\r\n,First,,shop_tg,1,,,,,,\r\n,Other,,shop_tg,2,,,,,,\r\n,Second,,shop_tg,1,,,,,,\r\n"
    )
    report = do_import(text, batch_size=100)
    assert (report.created, report.updated) == (2, 1)
    assert Client.get(Client.messenger_id == "1").name == "Second"


def test_a_row_the_database_refuses_is_reported_and_leaves_nothing(
    store: peewee.Database,
) -> None:
    # A name of 401 characters is refused by our own check before the database sees it.
    long_name = "я" * 401
    text = (
        ",".join(BASE_COLUMNS)
        + f"\r\n,ok,,shop_tg,1,,,,B1,B1,\r\n,{long_name},,shop_tg,2,,,,B2,B2,\r\n"
    )
    report = do_import(text)
    assert report.created == 1
    assert [(e.line, e.reason) for e in report.errors] == [(3, "name: longer than 400 characters")]
    assert [b.name for b in Block.select()] == ["B1"]


NOT_AN_EXPORT = [
    ("", "empty"),
    ("a,b,c\r\n", "not a client export"),
    (",".join([*BASE_COLUMNS, "x", "x"]) + "\r\n,A,,shop_tg,1,,,,,,,1,2\r\n", "appears twice"),
    (",".join([*BASE_COLUMNS, ""]) + "\r\n", "no variable name"),
]


def test_a_file_that_is_not_an_export_is_refused_whole(store: peewee.Database) -> None:
    for text, message in NOT_AN_EXPORT:
        with pytest.raises(ImportFormatError, match=message) as info:
            do_import(text)
        assert isinstance(info.value, StoreError)
    assert Client.select().count() == 0


def test_xlsx_has_the_eleven_columns_only(store: peewee.Database, tmp_path: Path) -> None:
    import openpyxl

    client = make_client(
        "shop_tg",
        "7",
        "=cmd|' /C calc'!A0",
        history=("Приветствие",),
        variables={"Размер": "XS"},
        avatar="https://example.com/a.png",
    )
    path = tmp_path / "clients.xlsx"
    assert write_xlsx(Client.select(), str(path), MOSCOW, batch_size=1) == 1
    sheet = openpyxl.load_workbook(path, read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == list(BASE_COLUMNS)
    assert rows[1] == [
        client.id,
        "=cmd|' /C calc'!A0",
        "telegram",
        "shop_tg",
        "7",
        "2023-05-22T23:59:00+03:00",
        "2023-05-22T23:59:00+03:00",
        "https://example.com/a.png",
        "Приветствие",
        "Приветствие",
        None,
    ]
    empty = tmp_path / "empty.xlsx"
    assert write_xlsx(Client.select().where(Client.id < 0), str(empty), MOSCOW) == 0
    rows = list(openpyxl.load_workbook(empty, read_only=True).active.iter_rows(values_only=True))
    assert rows == [tuple(BASE_COLUMNS)]


# Text a CSV cell can carry: any character but NUL and lone surrogates (which UTF-8 cannot).
cell_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    max_size=12,
) | st.sampled_from(["Ксения", "a,b", 'say "x"', "line\nbreak", "cr\r\nlf", " padded "])
block_names = cell_text.filter(lambda s: s != "" and ">" not in s)
client_strategy = st.fixed_dictionaries(
    {
        "bot": st.sampled_from([b for b, _ in BOTS]),
        "name": cell_text,
        "avatar": st.none() | cell_text.filter(bool),
        "tag": st.none() | cell_text.filter(bool),
        "history": st.lists(block_names, max_size=3).map(tuple),
        "variables": st.dictionaries(cell_text.filter(bool), cell_text.filter(bool), max_size=3),
        "created": st.datetimes(
            min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2030, 1, 1)
        ).map(lambda d: d.replace(microsecond=0)),
    }
)


def seed_exported(clients: list[dict[str, object]], messenger_id: str) -> None:
    """An empty store holding ``clients`` (drawn by ``client_strategy``); ``messenger_id``
    formats each one's id from its position ``n``."""
    wipe()
    for n, spec in enumerate(clients):
        make_client(
            spec["bot"],  # type: ignore[arg-type]
            messenger_id.format(n=n),
            spec["name"],  # type: ignore[arg-type]
            created=spec["created"],  # type: ignore[arg-type]
            avatar=spec["avatar"],  # type: ignore[arg-type]
            tag=spec["tag"],  # type: ignore[arg-type]
            history=spec["history"],  # type: ignore[arg-type]
            variables=spec["variables"],  # type: ignore[arg-type]
        )


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(clients=st.lists(client_strategy, min_size=1, max_size=4))
def test_round_trip_property(store: peewee.Database, clients: list[dict[str, object]]) -> None:
    seed_exported(clients, "m{n}")
    first = export_text(batch_size=3)
    wipe()
    report = do_import(first)
    assert report.errors == []
    assert report.created == len(clients)
    assert without_ids(export_text(batch_size=3)) == without_ids(first)
