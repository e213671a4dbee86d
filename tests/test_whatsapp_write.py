"""F1, write to WhatsApp: the service function on both databases, and ``switchboard whatsapp
write`` delivering through the real pywa client to the Graph API emulator."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import peewee
import pytest
from click.testing import CliRunner, Result
from pydantic import ValidationError
from pywa.types.templates import TemplateLanguage

from bots.whatsapp.payloads import parse_payload
from commands.cli import cli
from commands.whatsapp import start_whatsapp, template_param, window_open
from commands.write import WriteRefused
from config import Settings
from emulators import whatsapp_payloads as wp
from emulators.whatsapp import GraphEmulator
from store.clock import utcnow
from store.db import database_proxy, open_database
from store.inbound import record_inbound, rekey_client
from store.migrate import migrate
from store.models import Client, Label, LabelMembership, Message
from store.setup import sync_bots
from tests.conftest import run_cli
from tests.whatsapp_support import ACCESS_TOKEN, PHONE_ID, settings_for

KERRY = "+16315551181"
NOW = dt.datetime(2026, 11, 25, 12, 0, 0)


def wrote_in(wa_id: str, at: dt.datetime) -> None:
    """The client ``wa_id`` writes to bot ``wa`` at ``at``, as the webhook would store it."""
    body = wp.envelope(
        PHONE_ID,
        messages=[wp.text(wa_id, "hi", timestamp=int(at.replace(tzinfo=dt.UTC).timestamp()))],
        profiles={wa_id: "Kerry"},
    )
    for message in parse_payload(body, bot_name="wa", phone_number_id=PHONE_ID).messages:
        record_inbound(message)


@pytest.fixture
def wa_settings(db: peewee.Database) -> Settings:
    settings = settings_for(default_region="US")
    sync_bots((b.name, b.kind) for b in settings.bots)
    return settings


# ---- the service function (the admin bot's /write_whatsapp calls it too) ------------------


def test_new_client_gets_the_bots_first_contact_template(wa_settings: Settings) -> None:
    started = start_whatsapp(wa_settings, "wa", "(631) 555-1181", "Your order is ready", now=NOW)
    assert (started.recipient, started.client_created) == (KERRY, True)
    assert "never written" in started.note and "your text was NOT sent" in started.note
    client = Client.get_by_id(started.client_id)
    assert (client.messenger_id, client.name) == (KERRY, KERRY)
    row = Message.get_by_id(started.message_id)
    assert (row.direction, row.author_kind, row.status) == ("out", "operator", "queued")
    assert row.extra == {
        "template": {"name": "hello_world", "language": "en_US", "components": []},
        "operator_text": "Your order is ready",
    }


def test_a_client_who_wrote_within_24_hours_gets_the_text(wa_settings: Settings) -> None:
    wrote_in(KERRY[1:], NOW - dt.timedelta(hours=23))
    started = start_whatsapp(wa_settings, "wa", KERRY, "Your order is ready", now=NOW)
    assert not started.client_created and started.note == ""
    client = Client.get_by_id(started.client_id)
    assert client.name == "Kerry"  # the same client the webhook created
    row = Message.get_by_id(started.message_id)
    assert (row.text, row.extra) == ("Your order is ready", {})


def test_after_24_hours_the_template_carries_the_text_when_configured(db: peewee.Database) -> None:
    template = {"name": "order_update", "language": "ru", "text_parameter": True}
    settings = settings_for(first_contact_template=template)
    sync_bots((b.name, b.kind) for b in settings.bots)
    wrote_in(KERRY[1:], NOW - dt.timedelta(hours=30))
    settings = settings.model_copy(update={"timezone": "Europe/Moscow"})
    started = start_whatsapp(settings, "wa", KERRY, "Line one\nline two\t ok", now=NOW)
    assert "more than 24 hours ago" in started.note and "as its parameter" in started.note
    # 30 hours before 12:00 UTC, in the project's time and zone.
    assert "the client last wrote 2026-11-24 09:00 MSK," in started.note, started.note
    row = Message.get_by_id(started.message_id)
    parameter = {"type": "text", "text": "Line one line two ok"}
    assert row.extra == {
        "template": {
            "name": "order_update",
            "language": "ru",
            "components": [{"type": "body", "parameters": [parameter]}],
        }
    }
    assert row.text == "Line one line two ok"


@pytest.mark.parametrize(
    ("phone", "text", "reason"),
    [
        ("+7 000 000 00 00", "hi", "not a valid phone number of RU"),
        ("call me", "hi", "is not a phone number: it has no digits"),
        (KERRY, "  ", "the text is empty"),
    ],
)
def test_refusals_write_nothing(wa_settings: Settings, phone: str, text: str, reason: str) -> None:
    with pytest.raises(WriteRefused, match=reason):
        start_whatsapp(wa_settings, "wa", phone, text)
    assert Client.select().count() == 0 and Message.select().count() == 0


def test_unknown_bot_is_refused_with_the_choices(wa_settings: Settings) -> None:
    with pytest.raises(WriteRefused, match=r"no whatsapp bot named 'shop' \(whatsapp bots: wa\)"):
        start_whatsapp(wa_settings, "shop", KERRY, "hi")


def test_window_edges() -> None:
    assert not window_open(None, NOW)
    assert window_open(NOW - dt.timedelta(hours=23, minutes=49), NOW)
    # The last ten minutes count as closed: the text would be refused by the time it is sent.
    assert not window_open(NOW - dt.timedelta(hours=23, minutes=51), NOW)
    assert template_param("a\r\nb\t\tc     d  e") == "a b c d  e"


# ---- switchboard whatsapp write, through pywa to the Graph API emulator ---------------------

CONFIG = """\
database_url: sqlite:///{db}
bots:
  - name: wa
    kind: whatsapp
    phone_number_id: "{phone_id}"
    access_token: {token}
    app_secret: s3cret
    verify_token: v
    api_base: {api_base}
    seconds_per_recipient: 0
    default_region: US
  - name: mail
    kind: email
    enabled: false
"""


@pytest.fixture
async def graph() -> AsyncIterator[GraphEmulator]:
    async with GraphEmulator(access_token=ACCESS_TOKEN, seconds_per_recipient=0) as emulator:
        yield emulator


@pytest.fixture
def workdir(tmp_path: Path, graph: GraphEmulator) -> Iterator[Path]:
    (tmp_path / "config.yaml").write_text(
        CONFIG.format(
            db=tmp_path / "sb.db", phone_id=PHONE_ID, token=ACCESS_TOKEN, api_base=graph.url
        )
    )
    database = open_database(f"sqlite:///{tmp_path / 'sb.db'}")
    migrate(database)
    database.close()
    yield tmp_path
    database_proxy.initialize(None)


async def write(workdir: Path, *args: str) -> Result:
    """``switchboard whatsapp write ARGS`` in this process, off the event loop the emulator
    serves on (the command runs its own loop, as in a shell)."""
    config = str(workdir / "config.yaml")
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, cli, ["--config", config, "whatsapp", "write", *args]
    )


def rows(workdir: Path) -> tuple[list[Client], list[Message]]:
    database = open_database(f"sqlite:///{workdir / 'sb.db'}")
    try:
        return list(Client.select()), list(Message.select().order_by(Message.id))
    finally:
        database.close()
        database_proxy.initialize(None)


async def test_cli_sends_the_template_to_a_new_number_then_text_once_they_answer(
    workdir: Path, graph: GraphEmulator
) -> None:
    graph.window_closed.add(KERRY[1:])  # as on Meta: free text to them would be refused
    done = await asyncio.to_thread(
        run_cli, "whatsapp", "write", "wa", "631.555.1181", "Hello from the shop", cwd=workdir
    )
    assert done.returncode == 0, done.stderr
    assert "HTTP Request" not in done.stderr and "httpx" not in done.stderr, done.stderr
    assert "sending template hello_world (en_US) instead" in done.stdout
    assert f"sent to {KERRY}: message 1, client 1 (new), wamid wamid." in done.stdout
    [sent] = graph.sent
    assert (sent.to, sent.type) == (KERRY[1:], "template")
    assert sent.payload["template"] == {"name": "hello_world", "language": {"code": "en_US"}}
    _, [row] = rows(workdir)
    assert (row.status, row.platform_message_id) == ("sent", sent.wamid)

    # Kerry answers: the window opens and the next write is the text itself.
    database = open_database(f"sqlite:///{workdir / 'sb.db'}")
    wrote_in(KERRY[1:], utcnow() - dt.timedelta(minutes=1))
    database.close()
    graph.window_closed.clear()
    again = await write(workdir, "wa", KERRY, "Your order is ready")
    assert again.exit_code == 0, again.output
    assert "(new)" not in again.output and "template" not in again.output
    assert graph.sent[-1].type == "text"
    assert graph.sent[-1].payload["text"]["body"] == "Your order is ready"
    clients, messages = rows(workdir)
    assert len(clients) == 1 and [m.direction for m in messages] == ["out", "in", "out"]


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("12", "is not a phone number: too short"),
        ("+7 000 000 00 00", "is not a valid phone number of RU (+7)"),
        ("five five five", "is not a phone number: it has no digits"),
    ],
)
async def test_cli_refuses_a_bad_number_in_one_line(
    workdir: Path, graph: GraphEmulator, phone: str, reason: str
) -> None:
    done = await write(workdir, "wa", phone, "hi")
    assert done.exit_code == 1
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0] and "Traceback" not in done.output
    assert rows(workdir) == ([], []) and graph.calls == []


async def test_cli_refuses_unknown_and_disabled_bots(workdir: Path) -> None:
    unknown = await write(workdir, "nope", KERRY, "hi")
    assert unknown.exit_code == 1
    assert "no whatsapp bot named 'nope' (whatsapp bots: wa)" in unknown.output
    wrong_kind = await write(workdir, "mail", KERRY, "hi")
    assert "no whatsapp bot named 'mail'" in wrong_kind.output


@pytest.mark.parametrize(
    ("code", "status", "exit_code", "expected", "row_status"),
    [
        (131026, 400, 1, "failed: ", "failed"),  # not a WhatsApp user
        (130429, 400, 0, "queued for +16315551181, not sent yet", "queued"),  # throughput
        (131000, 500, 0, "queued for +16315551181, not sent yet", "queued"),  # their 5xx
    ],
)
async def test_cli_reports_what_the_platform_answered(
    workdir: Path,
    graph: GraphEmulator,
    code: int,
    status: int,
    exit_code: int,
    expected: str,
    row_status: str,
) -> None:
    graph.fail_next(code, status=status)
    done = await write(workdir, "wa", KERRY, "hi")
    assert done.exit_code == exit_code, done.output
    assert expected in done.output and "Traceback" not in done.output
    _, [row] = rows(workdir)
    assert row.status == row_status and row.error_code is not None


async def test_window_closed_on_the_platform_though_the_store_thought_it_open(
    workdir: Path, graph: GraphEmulator
) -> None:
    database = open_database(f"sqlite:///{workdir / 'sb.db'}")
    sync_bots([("wa", "whatsapp")])
    wrote_in(KERRY[1:], utcnow() - dt.timedelta(hours=1))
    database.close()
    graph.window_closed.add(KERRY[1:])
    done = await write(workdir, "wa", KERRY, "hi")
    assert done.exit_code == 1
    assert "send an approved template" in done.output
    _, [_, row] = rows(workdir)
    assert (row.status, row.error_code) == ("failed", "131047")


def test_template_language_codes_are_checked_in_the_configuration() -> None:
    known = [c for c in TemplateLanguage._value2member_map_ if c not in ("None", "UNKNOWN")]
    for code in known:  # every code Meta (through pywa) knows is accepted
        settings_for(first_contact_template={"name": "hello_world", "language": code})
    for typo in ("english", "en-US", "EN_us", ""):
        with pytest.raises(ValidationError, match=r"first_contact_template\.language"):
            settings_for(first_contact_template={"name": "hello_world", "language": typo})


async def test_a_number_whatsapp_knows_under_another_form_keeps_one_client(
    workdir: Path, graph: GraphEmulator
) -> None:
    """WhatsApp answers some Mexican numbers with a wa_id carrying an extra 1: the client is
    filed under it, so the person's reply lands in the same dialog."""
    graph.aliases["525512345678"] = "5215512345678"
    done = await write(workdir, "wa", "+52 55 1234 5678", "Hola")
    assert done.exit_code == 0, done.output
    assert "sent to +525512345678" in done.output
    assert "client 1 (new), known to the platform as +5215512345678" in done.output
    [client], _ = rows(workdir)
    assert client.messenger_id == "+5215512345678"
    database = open_database(f"sqlite:///{workdir / 'sb.db'}")
    wrote_in("5215512345678", utcnow())
    database.close()
    clients, messages = rows(workdir)
    assert len(clients) == 1 and [m.direction for m in messages] == ["out", "in"]
    # Written to again in the typed form, the number is the same person: still one client
    # (WhatsApp answers with the same wa_id; the typed form maps to it again).
    again = await write(workdir, "wa", "+525512345678", "¿Y?")
    assert again.exit_code == 0, again.output
    assert "client 1, known to the platform as +5215512345678" in again.output
    assert "(new)" not in again.output
    clients, messages = rows(workdir)
    assert len(clients) == 1 and {m.client_id for m in messages} == {clients[0].id}


def test_rekey_folds_only_a_client_that_is_nothing_but_our_write(wa_settings: Settings) -> None:
    wrote_in("5215512345678", NOW)  # they wrote in under the wa_id first
    [theirs] = Client.select()
    typed = start_whatsapp(wa_settings, "wa", "+52 55 1234 5678", "Hola", now=NOW)
    assert rekey_client(typed.client_id, "+5215512345678")
    assert Client.get_or_none(Client.id == typed.client_id) is None
    assert Message.get_by_id(typed.message_id).client_id == theirs.id

    labelled = start_whatsapp(wa_settings, "wa", "+52 55 1234 5679", "Hola", now=NOW)
    wrote_in("5215512345679", NOW)
    label = Label.create(name="VIP")
    LabelMembership.create(client=labelled.client_id, label=label)
    assert not rekey_client(labelled.client_id, "+5215512345679")  # an operator worked on it
    assert Client.get_by_id(labelled.client_id).messenger_id == "+525512345679"

    free = start_whatsapp(wa_settings, "wa", "+1 631 555 1181", "hi", now=NOW)
    assert rekey_client(free.client_id, "+16315551199")
    assert Client.get_by_id(free.client_id).messenger_id == "+16315551199"
