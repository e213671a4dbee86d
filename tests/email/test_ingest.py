"""IMAP ingest against a real Dovecot: IDLE, polling, restarts, UIDVALIDITY, awkward mail."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import peewee
from hypothesis import HealthCheck, given, settings

from bots.email.adapter import EmailAdapter
from bots.email.mailbox import begin_session, ingest_raw, mailbox_position
from config import ImapSettings
from emulators.mail import DovecotServer
from store.clients.unread import is_unread
from store.models import Client, Message
from tests.email import corpus
from tests.email.conftest import BOT, email_bot_settings, eventually, imap_settings
from tests.email.test_parse import raw_mails


def inbound_count() -> int:
    return Message.select().where(Message.direction == "in").count()


def dedup_keys() -> list[str]:
    return [m.dedup_key or "" for m in Message.select().where(Message.direction == "in")]


@asynccontextmanager
async def running(imap: ImapSettings) -> AsyncIterator[EmailAdapter]:
    adapter = EmailAdapter(email_bot_settings(imap=imap))
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.close()


async def test_idle_push_stores_new_mail(
    dovecot: DovecotServer, mail_user: str, email_bot: str
) -> None:
    dovecot.append(mail_user, corpus.simple(1))
    async with running(imap_settings(dovecot, mail_user, idle_renew_s=60)) as adapter:
        await eventually(lambda: inbound_count() == 1, "the mail already in the box")
        assert adapter.watcher is not None and adapter.watcher.mode == "idle"
        await asyncio.to_thread(dovecot.append, mail_user, corpus.simple(2))
        await eventually(lambda: inbound_count() == 2, "the mail pushed during IDLE")
        assert adapter.watcher.stats["idle_wakeups"] >= 1
        assert adapter.watcher.stats["polls"] == 0
    message = Message.get(Message.dedup_key == "mail:<simple-2-client@example.com>")
    client = Client.get_by_id(message.client_id)
    assert (client.messenger_id, client.name, is_unread(client.id)) == (
        "client@example.com",
        "Client 2",
        True,
    )
    assert (message.subject, message.text, message.author_kind) == (
        "Hello 2",
        "message number 2",
        "client",
    )
    assert message.extra["imap_uid"] == 2
    assert mailbox_position(BOT) == ("INBOX", dovecot.uidvalidity(mail_user), 2)


async def test_polling_when_idle_is_off(
    dovecot: DovecotServer, mail_user: str, email_bot: str
) -> None:
    async with running(imap_settings(dovecot, mail_user, use_idle=False)) as adapter:
        watcher = adapter.watcher
        assert watcher is not None
        await eventually(lambda: watcher.stats["passes"] >= 1, "a first pass over the box")
        await asyncio.to_thread(dovecot.append, mail_user, corpus.simple(1))
        await eventually(lambda: inbound_count() == 1, "the polled mail")
        assert adapter.watcher is not None and adapter.watcher.mode == "poll"
        assert adapter.watcher.stats["polls"] >= 1
        assert adapter.watcher.stats["idle_wakeups"] == 0


async def test_restarting_the_watcher_neither_loses_nor_repeats(
    dovecot: DovecotServer, mail_user: str, email_bot: str
) -> None:
    imap = imap_settings(dovecot, mail_user)
    for n in (1, 2):
        dovecot.append(mail_user, corpus.simple(n))
    async with running(imap):
        await eventually(lambda: inbound_count() == 2, "two mails")
    dovecot.append(mail_user, corpus.simple(3))  # arrives while we are not running
    async with running(imap) as adapter:
        await eventually(lambda: inbound_count() == 3, "the mail that came while down")
        assert adapter.watcher is not None and adapter.watcher.stats["duplicate"] == 0
    assert sorted(dedup_keys()) == sorted(
        f"mail:<simple-{n}-client@example.com>" for n in (1, 2, 3)
    )


async def test_server_restart_mid_session_reconnects_without_loss_or_duplicates(
    private_dovecot: DovecotServer, mail_user: str, email_bot: str
) -> None:
    server = private_dovecot
    server.append(mail_user, corpus.simple(1))
    async with running(imap_settings(server, mail_user)) as adapter:
        watcher = adapter.watcher
        assert watcher is not None
        await eventually(lambda: inbound_count() == 1, "the first mail")
        await asyncio.to_thread(server.stop)  # the server goes away while we IDLE
        await eventually(lambda: watcher.stats["reconnects"] >= 2, "failed reconnects")
        await asyncio.to_thread(server.start)
        await asyncio.to_thread(server.append, mail_user, corpus.simple(2))
        await eventually(lambda: inbound_count() == 2, "the mail after the restart")
        await asyncio.to_thread(server.append, mail_user, corpus.simple(3))
        # The watcher counts a mail after its transaction commits: wait on the count, which
        # lags the store, so the store is complete when it holds.
        await eventually(lambda: watcher.stats["stored"] == 3, "a push on the new session")
        assert inbound_count() == 3
        assert watcher.stats["sessions"] >= 2 and watcher.stats["duplicate"] == 0
    assert len(set(dedup_keys())) == len(dedup_keys()) == 3


async def test_uidvalidity_change_refetches_without_duplicates(
    private_dovecot: DovecotServer, mail_user: str, email_bot: str
) -> None:
    server = private_dovecot
    imap = imap_settings(server, mail_user)
    server.append(mail_user, corpus.simple(1))
    server.append(mail_user, corpus.no_message_id())  # deduplicated by its content hash
    async with running(imap):
        await eventually(lambda: inbound_count() == 2, "two mails")
    before = mailbox_position(BOT)
    new_validity = await asyncio.to_thread(server.change_uidvalidity, mail_user)
    assert before is not None and before[1] != new_validity
    server.append(mail_user, corpus.simple(3))
    async with running(imap) as adapter:
        await eventually(lambda: inbound_count() == 3, "the new mail after the change")
        await eventually(
            lambda: mailbox_position(BOT) == ("INBOX", new_validity, 3), "the new position"
        )
        assert adapter.watcher is not None and adapter.watcher.stats["duplicate"] == 2
    assert len(set(dedup_keys())) == 3


async def test_awkward_corpus_through_imap(
    dovecot: DovecotServer, mail_user: str, email_bot: str
) -> None:
    # One of our own mails, sent earlier, that the bounce below reports.
    client = Client.create(bot=Client.bot.rel_model.get(name=BOT), messenger_id="gone@example.com")
    ours = Message.create(
        client=client,
        bot=client.bot_id,
        direction="out",
        author_kind="operator",
        text="Your order",
        status="sent",
        platform_message_id="<out-1@shop.example>",
    )
    mails = [
        corpus.koi8r(),
        corpus.windows1251(),
        corpus.html_only(),
        corpus.nested(),
        corpus.bounce("<out-1@shop.example>"),
        corpus.auto_reply(),
        corpus.no_message_id(),
        corpus.no_sender(),
        corpus.unknown_charset(),
        corpus.raw_8bit_headers(),
        corpus.huge_attachment(300_000),
        corpus.simple(9),
    ]
    for raw in mails:
        dovecot.append(mail_user, raw)
    imap = imap_settings(dovecot, mail_user, max_message_bytes=100_000)
    async with running(imap) as adapter:
        watcher = adapter.watcher
        assert watcher is not None
        # A pass ends after the last mail is both committed and counted (the mailbox position
        # alone reaches the end a moment before the watcher counts the last mail).
        await eventually(lambda: watcher.stats["passes"] >= 1, "the whole corpus")
        stats = dict(watcher.stats)
    assert mailbox_position(BOT) == ("INBOX", dovecot.uidvalidity(mail_user), len(mails))
    assert stats["stored"] == 9 and stats["auto_reply"] == 1
    assert stats["bounce"] == 1 and stats["no_sender"] == 1
    senders = {c.messenger_id for c in Client.select()}
    assert "away@example.com" not in senders  # an auto-reply makes no client
    assert "mailer-daemon@mx.example.com" not in senders  # nor does a bounce
    assert {"ivan.petrov@example.ru", "olga@example.com", "petr@example.com"} <= senders
    ours = Message.get_by_id(ours.id)
    assert ours.status == "failed" and ours.error_code == "bounced"
    assert "User unknown" in (ours.error_text or "")
    koi8 = Message.get(Message.dedup_key == "mail:<koi8-1@example.ru>")
    assert koi8.text == "Здравствуйте! Когда привезёте заказ?" and koi8.subject == "Заказ номер 15"
    big = Message.get(Message.dedup_key == "mail:<huge-1@example.com>")
    assert big.text == "See the big file." and big.attachments[0]["file_name"] == "big.bin"
    assert big.extra["truncated_at_bytes"] == 100_000  # the rest stayed on the server
    nested = Message.get(Message.dedup_key == "mail:<nested-1@example.net>")
    assert nested.extra["references"] == ["<first@example.net>", "<out-0@shop.example>"]
    assert len(nested.attachments) == 3


async def test_wrong_password_keeps_retrying_without_dying(
    dovecot: DovecotServer, mail_user: str, email_bot: str
) -> None:
    imap = imap_settings(dovecot, mail_user, password="wrong")
    async with running(imap) as adapter:
        watcher = adapter.watcher
        assert watcher is not None
        await eventually(lambda: watcher.stats["reconnects"] >= 3, "retries after refusals")
        assert watcher.stats["sessions"] == 0
        assert adapter._task is not None and not adapter._task.done()


_uids = itertools.count(1)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=raw_mails())
def test_any_mail_is_filed_and_the_mailbox_moves_on(
    db: peewee.Database, email_bot: str, raw: bytes
) -> None:
    uid = next(_uids)
    begin_session(BOT, "INBOX", 1)
    outcome = ingest_raw(BOT, uid, raw)
    assert outcome in ("stored", "duplicate", "auto_reply", "bounce_unmatched", "no_sender")
    position = mailbox_position(BOT)
    assert position is not None and position[2] == uid
