"""Nothing stored can break a reader (issue 19 item 4), on SQLite and PostgreSQL: clients with
dates at both ends of the range, the longest names, text of every Unicode category, stored
through the one ingest path and directly, then every filter, the list, the export, the card
and the admin bot's /clients and /client over them, in zones on both sides of UTC."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.admin import ADMIN_COMMANDS, CommandContext
from config import Settings
from store.clients.details import client_details
from store.clients.query import compile_filter, count_clients, page_clients, select_clients
from store.export import write_csv, write_xlsx
from store.importer import RowError, parse_timestamp
from store.inbound import InboundMessage, record_inbound
from store.models import Block, Bot, Client, Label, MailingList, Operator
from store.sanitize import clean_text
from store.setup import bootstrap_operators, sync_bots
from tests.conftest import migrated_store, run_cli

FIRST = dt.datetime(1, 1, 1)
LAST = dt.datetime(9999, 12, 31, 23, 59, 59)
EDGES = [FIRST, LAST, dt.datetime.max, dt.datetime(1, 1, 1, 5), dt.datetime(9999, 12, 31, 1)]
ZONES = ["America/New_York", "Pacific/Kiritimati", "Europe/Moscow", "UTC"]
# One example of every filter of the registry (docs/filters.md), the edges of dates included.
FILTERS = [
    "",
    "search:a",
    "Ann",
    '"two words"',
    "id:1",
    "client:1,2,3",
    "block:B",
    "list:L",
    "-list:L",
    "label:X",
    "-label:X",
    "channel:tg",
    "before:9999-12-31",
    "after:0001-01-01",
    "before:01.01.0001",
    "after:31.12.9999",
    "unanswered",
    "stage:S",
    "responsible:me",
    "responsible:none",
    "var:size=XS",
    "var:size",
    "var:=XS",
    "tab:all",
    "tab:unanswered",
    "tab:mine",
    "tab:others",
    "tab:free",
    "sort:created",
    "sort:activity",
]

any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
long_text = st.text(st.characters(codec=None, exclude_categories=()), min_size=390, max_size=420)
moments = st.sampled_from(EDGES) | st.datetimes(
    min_value=FIRST, max_value=dt.datetime(9999, 12, 31, 23, 59, 59)
)
clients = st.lists(
    st.fixed_dictionaries(
        {
            "name": any_text | long_text,
            "via_ingest": st.booleans(),
            "created_at": moments,
            "last_action_at": moments,
            "text": any_text,
        }
    ),
    min_size=1,
    max_size=4,
)


def _store(i: int, spec: dict[str, Any]) -> None:
    if spec["via_ingest"]:
        # Raw platform text (surrogates, NUL, 420 characters): the ingest boundary cleans it.
        result = record_inbound(
            InboundMessage(
                bot_name="tg",
                messenger_id=f"{i}",
                dedup_key=f"tg:update:{i}",
                text=spec["text"],
                name=spec["name"] or None,
                username=spec["text"] or None,
                language=spec["text"] or None,
                sent_at=spec["last_action_at"],
            )
        )
        client_id = result.client_id
    else:
        client_id = Client.create(
            bot=Bot.get(Bot.name == "tg"),
            messenger_id=f"{i}:{clean_text(spec['text'])}"[:320],
            name=clean_text(spec["name"])[:400],
        ).id
    # Dates a platform can no longer write (the boundary replaces them), as an old row or an
    # import may still hold.
    Client.update(created_at=spec["created_at"], last_action_at=spec["last_action_at"]).where(
        Client.id == client_id
    ).execute()


def _read_everything(zone_name: str, tmp_path: Path) -> None:
    settings_ = Settings.model_validate({"timezone": zone_name})
    zone = settings_.zone
    admin = Operator.get(Operator.telegram_id == 111)
    total = Client.select().count()
    for text in FILTERS:
        flt = compile_filter(text, admin, zone)
        page = page_clients(flt, admin, page=1, per_page=50)
        details = client_details([c.id for c in page.clients], zone)
        for d in details:
            for stamp in (d.created_at, d.last_action_at):
                assert dt.datetime.fromisoformat(stamp).year in range(1, 10000)
        assert count_clients(flt, admin) == page.total <= total
        out = io.StringIO()
        written = write_csv(select_clients(flt, admin), out, zone)
        assert written == page.total
        assert len(list(csv.reader(io.StringIO(out.getvalue())))) == written + 1
    assert page_clients(compile_filter("", admin, zone), admin, page=1, per_page=50).total == total
    write_xlsx(
        select_clients(compile_filter("", admin, zone), admin), str(tmp_path / "x.xlsx"), zone
    )
    ctx = CommandContext(operator=admin, settings=settings_)
    for command in ("/clients", "/clients unanswered", "/unread"):
        assert ADMIN_COMMANDS.handle_text(ctx, command).text
    for client in Client.select(Client.id):
        card = ADMIN_COMMANDS.handle_text(ctx, f"/client {client.id}")
        assert f"#{client.id}" in card.text or str(client.id) in card.text


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=clients, zone_name=st.sampled_from(ZONES))
def test_extreme_clients_break_no_reader(
    db: peewee.Database, tmp_path: Path, specs: list[dict[str, Any]], zone_name: str
) -> None:
    Client.delete().execute()
    if not Operator.select().exists():
        bootstrap_operators([(111, "admin", "Anna", None)])
        sync_bots([("tg", "telegram")])
        for model in (Block, MailingList, Label):
            model.get_or_create(name={Block: "B", MailingList: "L", Label: "X"}[model])
    for i, spec in enumerate(specs):
        _store(i, spec)
    # A deal stage is known when a client is at it (stage:S in FILTERS).
    first = Client.select(peewee.fn.MIN(Client.id))
    Client.update(deal_stage="S").where(Client.id == first).execute()
    _read_everything(zone_name, tmp_path)


def test_clients_list_with_a_far_future_client(db_url: str, tmp_path: Path) -> None:
    """The issue's case through the real CLI: a client last active 9999-12-31 23:59:59."""
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database_url: {db_url}\ntimezone: America/New_York\n"
        "bots:\n  - {name: tg, kind: telegram, token: '1:abc', webhook_secret: s3cret-s3cret}\n",
        encoding="utf-8",
    )
    assert run_cli("--config", str(config), "migrate", cwd=tmp_path).returncode == 0
    with migrated_store(db_url):
        sync_bots([("tg", "telegram")])
        record_inbound(InboundMessage(bot_name="tg", messenger_id="1", dedup_key="k1", name="Far"))
        record_inbound(InboundMessage(bot_name="tg", messenger_id="2", dedup_key="k2", name="Old"))
        Client.update(last_action_at=LAST).where(Client.messenger_id == "1").execute()
        Client.update(created_at=FIRST, last_action_at=FIRST).where(
            Client.messenger_id == "2"
        ).execute()
    listed = run_cli("--config", str(config), "clients", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    _header, far, old = listed.stdout.splitlines()
    assert "Far" in far and "\t9999-12-31 18:59 EST\t" in far, far
    assert "Old" in old and "\t0001-01-01 00:00 " in old, old
    exported = run_cli("--config", str(config), "clients", "export", "-o", "out.csv", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert "9999-12-31T18:59:59-05:00" in (tmp_path / "out.csv").read_text(encoding="utf-8")


def test_import_refuses_a_time_beyond_the_range_in_one_line() -> None:
    zone = Settings.model_validate({"timezone": "America/New_York"}).zone
    assert parse_timestamp("9999-12-31T18:59:59-05:00", zone) == LAST
    with pytest.raises(RowError, match="outside the years 1-9999"):
        parse_timestamp("9999-12-31T23:59:59", zone)
    with pytest.raises(RowError, match="outside the years 1-9999"):
        parse_timestamp("0001-01-01T00:00:00+03:00", zone)
