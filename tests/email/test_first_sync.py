"""``initial_sync``: what the first connection to a mailbox imports, against a real Dovecot."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

from bots.email.adapter import EmailAdapter
from bots.email.mailbox import mailbox_position
from emulators.mail import DovecotServer
from store.models import Message
from tests.email import corpus
from tests.email.conftest import BOT, eventually, imap_settings
from tests.email.test_ingest import dedup_keys, inbound_count, running

LONG_AGO = dt.datetime(2021, 3, 1, 12, 0, tzinfo=dt.UTC)


def watcher_stats(adapter: EmailAdapter) -> Counter[str]:
    """The running adapter's mailbox watcher's counters (one Counter for the watcher's life)."""
    assert adapter.watcher is not None
    return adapter.watcher.stats


def keys(*numbers: int) -> list[str]:
    return sorted(f"mail:<simple-{n}-client@example.com>" for n in numbers)


async def test_new_leaves_old_mail_alone_and_keeps_what_came_while_down(
    dovecot: DovecotServer, mail_user: str, email_bot: str
) -> None:
    for n in (1, 2):
        dovecot.append(mail_user, corpus.simple(n))
    imap = imap_settings(dovecot, mail_user, initial_sync="new")
    async with running(imap) as adapter:
        stats = watcher_stats(adapter)
        await eventually(lambda: stats["passes"] >= 1, "a first pass")
        assert inbound_count() == 0  # the two old mails stay on the server, unread here
        assert mailbox_position(BOT) == ("INBOX", dovecot.uidvalidity(mail_user), 2)
        await asyncio.to_thread(dovecot.append, mail_user, corpus.simple(3))
        await eventually(lambda: stats["stored"] == 1, "the mail after connecting")
    dovecot.append(mail_user, corpus.simple(4))  # arrives while we are not running
    async with running(imap) as adapter:
        stats = watcher_stats(adapter)
        await eventually(lambda: stats["stored"] == 1, "the mail that came while down")
    assert sorted(dedup_keys()) == keys(3, 4)


async def test_since_a_day_stores_mail_received_from_that_day(
    dovecot: DovecotServer, mail_user: str, email_bot: str
) -> None:
    dovecot.append(mail_user, corpus.simple(1), received=LONG_AGO)
    dovecot.append(mail_user, corpus.simple(2), received=LONG_AGO + dt.timedelta(days=40))
    dovecot.append(mail_user, corpus.simple(3))
    imap = imap_settings(dovecot, mail_user, initial_sync="since:2021-04-01")
    async with running(imap) as adapter:
        stats = watcher_stats(adapter)
        await eventually(lambda: stats["passes"] >= 1, "a first pass")
    assert sorted(dedup_keys()) == keys(2, 3)


async def test_since_a_day_after_every_mail_stores_only_new_mail(
    dovecot: DovecotServer, mail_user: str, email_bot: str
) -> None:
    dovecot.append(mail_user, corpus.simple(1), received=LONG_AGO)
    imap = imap_settings(dovecot, mail_user, initial_sync="since:2099-01-01")
    async with running(imap) as adapter:
        stats = watcher_stats(adapter)
        await eventually(lambda: stats["passes"] >= 1, "a first pass")
        await asyncio.to_thread(dovecot.append, mail_user, corpus.simple(2))
        await eventually(lambda: stats["stored"] == 1, "the new mail")
    assert dedup_keys() == keys(2)


async def test_renumbered_folder_under_new_does_not_import_old_mail(
    private_dovecot: DovecotServer, mail_user: str, email_bot: str
) -> None:
    server = private_dovecot
    server.append(mail_user, corpus.simple(1), received=LONG_AGO)  # before we connected
    imap = imap_settings(server, mail_user, initial_sync="new")
    async with running(imap) as adapter:
        stats = watcher_stats(adapter)
        await eventually(lambda: stats["passes"] >= 1, "a first pass")
        await asyncio.to_thread(server.append, mail_user, corpus.simple(2))
        await eventually(lambda: stats["stored"] == 1, "the mail after connecting")
    new_validity = await asyncio.to_thread(server.change_uidvalidity, mail_user)
    server.append(mail_user, corpus.simple(3))
    async with running(imap) as adapter:
        stats = watcher_stats(adapter)
        await eventually(lambda: stats["stored"] == 1, "the mail after renumbering")
        assert stats["duplicate"] == 1  # mail 2, read again and dropped
    assert sorted(dedup_keys()) == keys(2, 3)
    assert mailbox_position(BOT) == ("INBOX", new_validity, 3)
    assert Message.select().count() == 2
