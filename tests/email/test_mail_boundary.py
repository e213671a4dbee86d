"""Mail through the ingest boundary on SQLite and PostgreSQL: NUL bytes and control
characters in the text and headers, a far-future Date, addresses email.headerregistry refuses."""

from __future__ import annotations

import pytest

from bots.email.mailbox import begin_session, ingest_raw
from bots.email.parse import parse_mail
from store.models import Client, Message, UnparsedItem


def mail(sender: str, body: bytes, *, date: str = "Mon, 20 Nov 2023 10:00:00 +0000") -> bytes:
    return (
        f"From: {sender}\r\nTo: shop@example.com\r\nSubject: Order\x00 \x07now\r\n"
        f"Date: {date}\r\nMessage-ID: <m-{abs(hash(body))}@example.com>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode() + body


def test_nul_and_controls_are_dropped_and_a_future_date_is_flagged(email_bot: str) -> None:
    begin_session(email_bot, "INBOX", 1)
    raw = mail('"Ann\x00 Lee" <ann@example.com>', b"line one\x00\x01\r\nline\x1b two\r\n")
    assert ingest_raw(email_bot, 1, raw) == "stored"
    future = mail("bob@example.com", b"later", date="Fri, 31 Dec 9999 23:59:59 +0000")
    assert ingest_raw(email_bot, 2, future) == "stored"
    first, second = Message.select().order_by(Message.id)
    assert first.text == "line one\nline two" and first.subject == "Order now"
    assert Client.get(Client.messenger_id == "ann@example.com").name == "Ann Lee"
    # The mail parser keeps a sender's future clock at "now"; a date before 2000 is flagged.
    old = mail("carl@example.com", b"old", date="Thu, 01 Jan 1970 00:00:00 +0000")
    assert ingest_raw(email_bot, 3, old) == "stored"
    flagged = Message.get(Message.client == Client.get(Client.messenger_id == "carl@example.com"))
    assert flagged.extra["sent_at_replaced"] == "1970-01-01T00:00:00"
    assert second.created_at.year < 9999


@pytest.mark.parametrize(
    "sender",
    ["a\u200bb <x y@example.com>", "<@example.com>", "<user@>", '<a"b@example.com>'],
)
def test_addresses_headerregistry_refuses_are_no_client(sender: str) -> None:
    assert parse_mail(mail(sender, b"x")).sender is None


def test_a_mail_without_a_sender_is_kept_as_unusable(email_bot: str) -> None:
    begin_session(email_bot, "INBOX", 1)
    raw = b"Subject: who?\r\nMessage-ID: <nobody@example.com>\r\n\r\nno sender\x00 here\r\n"
    assert ingest_raw(email_bot, 1, raw) == "no_sender"
    (kept,) = UnparsedItem.select()
    assert (kept.bot, kept.channel, kept.reason) == (email_bot, "email", "mail.no_sender")
    assert "no sender here" in kept.payload and "\x00" not in kept.payload
    assert kept.detail.startswith("UID 1: ")
