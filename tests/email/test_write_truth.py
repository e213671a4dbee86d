"""``email write`` and ``/write_email`` tell the truth while a service is sending: sent, failed
and why, or queued because no sender took it — never "queued" for a mail being sent."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest

from commands.admin import CommandContext
from commands.email import start_email
from commands.write import send_here
from config import Settings
from emulators.mail import SmtpSink
from store.models import Message
from store.setup import sync_bots
from tests.admin_support import make_staff, run
from tests.conftest import run_cli
from workers.engine import Engine


def mail_settings(sink: SmtpSink, password: str, database_url: str = "sqlite://") -> Settings:
    return Settings.model_validate(
        {
            "database_url": database_url,
            "bots": [
                {
                    "name": "shop_mail",
                    "kind": "email",
                    "imap": {"host": "127.0.0.1", "port": 1, "user": "shop", "password": "x"},
                    "smtp": {
                        "host": sink.host,
                        "port": sink.port,
                        "security": "none",
                        "user": sink.user,
                        "password": password,
                        "from_address": "Corner Shop <shop@shop.example>",
                        "timeout_s": 5,
                    },
                }
            ],
            "delivery": {"dispatch_interval_s": 0.05, "worker_threads": 2},
        }
    )


@pytest.fixture
def staff(db: peewee.Database) -> dict[str, CommandContext]:
    sync_bots([("shop_mail", "email")])
    return make_staff()


@pytest.fixture
def serving() -> Iterator[list[Engine]]:
    """Engines started by a test, stopped at its end: a running service's senders."""
    engines: list[Engine] = []
    yield engines
    for engine in engines:
        engine.stop()


def start_senders(settings: Settings, engines: list[Engine]) -> None:
    engine = Engine(settings)
    engine.start_dispatcher()
    engine.start_workers()
    engines.append(engine)


@pytest.mark.parametrize(("password", "sent"), [("wrong", False), ("smtp-secret", True)])
def test_write_email_waits_for_the_running_senders_outcome(
    staff: dict[str, CommandContext],
    smtp_sink: SmtpSink,
    serving: list[Engine],
    password: str,
    sent: bool,
) -> None:
    settings = mail_settings(smtp_sink, password)
    start_senders(settings, serving)
    ctx = dataclasses.replace(staff["operator"], settings=settings)
    reply = run(ctx, "/write_email shop_mail anna@example.test Заказ | Готов")
    row = Message.get()
    if sent:
        assert not reply.error and "Mail to anna@example.test sent" in reply.text
        assert row.status == "sent" and len(smtp_sink.messages) == 1
    else:
        assert reply.error and "Mail to anna@example.test failed" in reply.text
        assert "refused the login" in reply.text and "queued" not in reply.text
        assert row.status == "failed" and smtp_sink.messages == []


def test_write_email_without_a_sender_says_so(
    staff: dict[str, CommandContext], smtp_sink: SmtpSink
) -> None:
    ctx = dataclasses.replace(staff["operator"], settings=mail_settings(smtp_sink, "smtp-secret"))
    started = time.monotonic()
    reply = run(ctx, "/write_email shop_mail anna@example.test Hi | text")
    assert "queued, not sent: no delivery worker took it within 2.25 s" in reply.text
    assert time.monotonic() - started >= 2.25
    assert Message.get().status == "queued" and smtp_sink.messages == []


def test_a_mail_a_running_sender_claimed_first_reports_that_senders_outcome(
    staff: dict[str, CommandContext], smtp_sink: SmtpSink, serving: list[Engine]
) -> None:
    """The race of ``switchboard email write`` next to ``serve``: the service's worker claims
    the row before the command does. The command must wait for that worker's outcome."""
    settings = mail_settings(smtp_sink, "wrong")
    started = start_email(settings, "shop_mail", "late@example.test", "Hi", "text")
    start_senders(settings, serving)
    deadline = time.monotonic() + 10
    while Message.get_by_id(started.message_id).status == "queued":
        assert time.monotonic() < deadline, "the running sender never claimed the row"
        time.sleep(0.005)
    outcome = send_here(settings, started.message_id)  # our claim loses: it waits instead
    assert outcome.state == "failed" and "refused the login" in (outcome.row.error_text or "")
    assert outcome.row.attempts == 1  # sent once, by the running sender


def test_email_write_next_to_a_running_service_never_says_queued(
    db_url: str, db: peewee.Database, tmp_path: Path, smtp_sink: SmtpSink, serving: list[Engine]
) -> None:
    sync_bots([("shop_mail", "email")])
    settings = mail_settings(smtp_sink, "wrong", db_url)
    start_senders(settings, serving)
    config = tmp_path / "config.yaml"
    config.write_text(settings.model_dump_json().replace('"**********"', '"wrong"'))
    for n in range(3):
        done = run_cli(
            "--config",
            str(config),
            "email",
            "write",
            "shop_mail",
            f"c{n}@example.test",
            "s",
            "t",
            cwd=tmp_path,
        )
        assert done.returncode == 1, done.stdout
        assert "failed" in done.stderr and "refused the login" in done.stderr
        assert "queued" not in done.stdout + done.stderr
    assert [m.status for m in Message.select()] == ["failed"] * 3
