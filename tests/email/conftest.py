"""Mail servers for the email tests: a real Dovecot (installed when missing) and aiosmtpd."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import peewee
import pytest

from config import EmailBotSettings, ImapSettings, SmtpSettings
from emulators.mail import INSTALL_COMMAND, DovecotServer, MailServerError, SmtpSink
from store.setup import sync_bots

BOT = "mailbox"


def _start_dovecot() -> DovecotServer:
    try:
        server = DovecotServer()
        server.start()
    except MailServerError as exc:
        pytest.fail(f"{exc} (install: {INSTALL_COMMAND})", pytrace=False)
    return server


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """One Dovecot for the session; tests keep apart by each using its own user (Maildir)."""
    server = _start_dovecot()
    yield server
    server.close()


@pytest.fixture
def private_dovecot() -> Iterator[DovecotServer]:
    """A Dovecot of this test alone, for tests that stop or rebuild the server."""
    server = _start_dovecot()
    yield server
    server.close()


@pytest.fixture
def mail_user() -> str:
    return f"u{secrets.token_hex(5)}"


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(user="shop", password="smtp-secret")
    sink.start()
    yield sink
    sink.stop()


def imap_settings(server: DovecotServer, user: str, **overrides: Any) -> ImapSettings:
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "user": user,
        "password": server.password,
        "poll_interval_s": 0.2,
        "reconnect_delay_s": 0.05,
        "reconnect_max_s": 0.5,
        "timeout_s": 5,
        # Most tests put mail in the box before the bot starts and expect it read.
        "initial_sync": "all",
    }
    values.update(overrides)
    return ImapSettings(**values)


def smtp_settings(sink: SmtpSink, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": sink.host,
        "port": sink.port,
        "security": "none",
        "user": sink.user,
        "password": sink.password,
        "from_address": "Corner Shop <shop@shop.example>",
        "timeout_s": 5,
    }
    values.update(overrides)
    return SmtpSettings(**values)


def email_bot_settings(
    imap: ImapSettings | None = None, smtp: SmtpSettings | None = None, name: str = BOT
) -> EmailBotSettings:
    enabled = imap is not None and smtp is not None  # an enabled bot needs both
    return EmailBotSettings(name=name, kind="email", imap=imap, smtp=smtp, enabled=enabled)


@pytest.fixture
def email_bot(db: peewee.Database) -> str:
    """The store knows the bot ``mailbox`` (kind email)."""
    sync_bots([(BOT, "email")])
    return BOT


async def eventually(predicate: Callable[[], bool], what: str, timeout_s: float = 15.0) -> None:
    """Wait until ``predicate()`` holds (checked every 20 ms); fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        if await asyncio.to_thread(predicate):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.02)
