"""F2 from the shell: ``switchboard email write BOT ADDRESS SUBJECT TEXT``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commands.cli import cli
from emulators.mail import SmtpSink
from store.db import database_proxy, open_database
from store.migrate import migrate
from store.models import Client, Message
from tests.conftest import run_cli

ENV = {"IMAP_PW": "x", "SMTP_PW": "smtp-secret"}  # passwords come from the environment
CONFIG = """\
database_url: sqlite:///{db}
bots:
  - name: shop_mail
    kind: email
    imap: {{host: 127.0.0.1, port: 1, security: none, user: shop, password: "${{IMAP_PW}}"}}
    smtp:
      host: {host}
      port: {port}
      security: none
      user: shop
      password: "${{SMTP_PW}}"
      from_address: Corner Shop <shop@shop.example>
  - name: other
    kind: telegram
    token: "123:abc"
"""


@pytest.fixture
def workdir(tmp_path: Path, smtp_sink: SmtpSink) -> Iterator[Path]:
    (tmp_path / "config.yaml").write_text(
        CONFIG.format(db=tmp_path / "sb.db", host=smtp_sink.host, port=smtp_sink.port)
    )
    database = open_database(f"sqlite:///{tmp_path / 'sb.db'}")
    migrate(database)
    database.close()
    yield tmp_path
    database_proxy.initialize(None)


def write_in_process(workdir: Path, *args: str) -> Result:
    """The same command in this process (the slow part of a subprocess is Python starting)."""
    config = str(workdir / "config.yaml")
    return CliRunner().invoke(cli, ["--config", config, "email", "write", *args], env=ENV)


def rows(workdir: Path) -> tuple[list[Client], list[Message]]:
    database = open_database(f"sqlite:///{workdir / 'sb.db'}")
    try:
        return list(Client.select()), list(Message.select().order_by(Message.id))
    finally:
        database.close()
        database_proxy.initialize(None)


def test_write_creates_the_client_sends_and_records_the_message(
    workdir: Path, smtp_sink: SmtpSink
) -> None:
    done = run_cli(
        "email",
        "write",
        "shop_mail",
        " New.Client@Example.com ",
        "Your order",
        "It shipped.",
        cwd=workdir,
        env=ENV,
    )
    assert done.returncode == 0, done.stderr
    assert "sent to new.client@example.com" in done.stdout and "(new)" in done.stdout
    [sent] = smtp_sink.messages
    assert sent.rcpt_tos == ["new.client@example.com"]
    assert sent.message["Subject"] == "Your order"
    clients, messages = rows(workdir)
    assert [c.messenger_id for c in clients] == ["new.client@example.com"]
    [row] = messages
    assert (row.direction, row.author_kind, row.status) == ("out", "operator", "sent")
    assert (row.subject, row.text) == ("Your order", "It shipped.")
    assert row.platform_message_id == sent.message["Message-ID"]

    again = write_in_process(workdir, "shop_mail", "new.client@example.com", "More", "x")
    assert again.exit_code == 0 and "(new)" not in again.output
    clients, messages = rows(workdir)
    assert len(clients) == 1 and len(messages) == 2


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("not-an-address", "has no @"),
        ("a@b", "the domain must look like example.com"),
        ("two@@example.com", "bad part before the @"),
        ("x y@example.com", "bad part before the @"),
    ],
)
def test_bad_address_is_refused_in_one_line_and_nothing_is_written(
    workdir: Path, smtp_sink: SmtpSink, address: str, reason: str
) -> None:
    done = write_in_process(workdir, "shop_mail", address, "s", "t")
    assert done.exit_code == 1
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0] and "Traceback" not in done.output
    assert rows(workdir) == ([], [])
    assert smtp_sink.messages == []


def test_unknown_or_wrong_kind_of_bot_is_refused(workdir: Path) -> None:
    for name in ("nope", "other"):
        done = write_in_process(workdir, name, "a@example.com", "s", "t")
        assert done.exit_code == 1
        assert f"no email bot named '{name}' (email bots: shop_mail)" in done.output


def test_refused_recipient_is_recorded_as_failed(workdir: Path, smtp_sink: SmtpSink) -> None:
    smtp_sink.behaviour.refuse_recipients["gone@example.com"] = (550, "5.1.1 User unknown")
    done = write_in_process(workdir, "shop_mail", "gone@example.com", "s", "t")
    assert done.exit_code == 1
    assert "failed: 550" in done.output and "User unknown" in done.output
    _, [row] = rows(workdir)
    assert (row.status, row.error_code) == ("failed", "550")
    assert "User unknown" in (row.error_text or "")


def test_temporary_refusal_leaves_the_mail_queued_for_the_workers(
    workdir: Path, smtp_sink: SmtpSink
) -> None:
    smtp_sink.behaviour.data_reply = "451 4.3.0 greylisted, try again later"
    done = write_in_process(workdir, "shop_mail", "later@example.com", "s", "t")
    assert done.exit_code == 0, done.output
    assert "queued for later@example.com, not sent yet" in done.output
    assert "greylisted" in done.output
    _, [row] = rows(workdir)
    assert (row.status, row.attempts) == ("queued", 1)
    assert row.next_attempt_at is not None and "greylisted" in (row.error_text or "")
