"""Telegram Business (issue 16 item 3): a bot with ``business: true`` stores the connections,
the owner's chats as dialogs, edits and deletions, and answers through the connection; a
disabled connection refuses replies. Fixtures are the Bot API's documented object shapes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import peewee
import pytest

from bots.telegram.business import parse_business, parse_connection
from bots.telegram.updates import BUSINESS_KINDS, USED_KINDS, parse_update, used_kinds
from commands.write import deliver_now
from emulators.telegram import TelegramEmulator
from store import outbox
from store.business import connection_of, split_business_key
from store.clients.unread import is_unread
from store.models import BusinessConnection, Client, Message
from tests.admin_support import make_staff, run
from tests.telegram_support import TOKEN, register_webhook, settings_for
from tests.whatsapp_support import serve

OWNER = {"id": 500, "is_bot": False, "first_name": "Olga", "username": "olga_shop"}
CY = {"id": 77, "is_bot": False, "first_name": "Cy", "last_name": "Po"}
CY_CHAT = {"id": 77, "type": "private", "first_name": "Cy", "last_name": "Po"}


def business_message(sender: dict[str, Any], text: str, message_id: int = 9) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "business_connection_id": "conn-1",
        "from": sender,
        "chat": CY_CHAT,
        "date": 1_700_000_000,
        "text": text,
    }


def test_connection_rights_old_and_new_shapes() -> None:
    new = {"id": "conn-1", "user": OWNER, "user_chat_id": 500, "date": 1_700_000_000}
    parsed = parse_connection(
        {"update_id": 1, "business_connection": {**new, "rights": {"can_reply": True}}}
    )
    assert parsed is not None and parsed.can_reply and parsed.enabled
    assert (parsed.owner_name, parsed.owner_username, parsed.user_chat_id) == (
        "Olga",
        "olga_shop",
        500,
    )
    old = parse_connection(
        {"update_id": 2, "business_connection": {**new, "can_reply": False, "is_enabled": False}}
    )
    assert old is not None and not old.can_reply and not old.enabled
    assert parse_connection({"update_id": 3, "message": {}}) is None


def test_business_messages_of_the_client_and_of_the_owner() -> None:
    mine = parse_business("tg", {"update_id": 4, "business_message": business_message(CY, "hi")})
    owner = parse_business(
        "tg", {"update_id": 5, "business_message": business_message(OWNER, "hello")}
    )
    edited = parse_business(
        "tg", {"update_id": 6, "edited_business_message": business_message(CY, "hi!")}
    )
    assert mine is not None and owner is not None and edited is not None
    assert split_business_key(mine.event.messenger_id) == ("conn-1", "77")
    assert (mine.event.author_kind, mine.event.direction, mine.event.mark_unread) == (
        "client",
        "in",
        True,
    )
    assert mine.event.name == owner.event.name == "Cy Po"  # the chat is the client
    assert (owner.event.author_kind, owner.event.direction, owner.event.mark_unread) == (
        "operator",
        "out",
        False,
    )
    assert owner.event.extra["business_owner"] is True
    assert edited.event.extra["edited"] and edited.event.platform_message_id == "9"
    deleted = parse_business(
        "tg",
        {
            "update_id": 7,
            "deleted_business_messages": {
                "business_connection_id": "conn-1",
                "chat": CY_CHAT,
                "message_ids": [9, 10],
            },
        },
    )
    assert deleted is not None and deleted.deleted_ids == ("9", "10")
    assert deleted.event.author_kind == "system" and deleted.event.text == "deleted 2 messages"


def test_business_kinds_only_for_business_bots() -> None:
    update = {"update_id": 8, "business_message": business_message(CY, "hi")}
    assert parse_update("tg", update) is None  # a plain bot ignores it, as before
    assert used_kinds(False) == USED_KINDS
    assert used_kinds(True) == USED_KINDS + BUSINESS_KINDS


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(tokens=[TOKEN], limits=False) as emulator:
        yield emulator


async def register(emu: TelegramEmulator, base: str) -> None:
    await register_webhook(emu.base_url, base, business=True)


async def test_business_conversation_read_and_answered_from_the_admin_bot(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    staff = make_staff()
    settings = settings_for(emu.base_url, business=True)
    async with serve(settings) as base:
        await register(emu, base)
        conn = await emu.connect_business(TOKEN, 500, "Olga", username="olga_shop")
        chat = emu.business_chat(TOKEN, conn.connection_id, 77, "Cy", last_name="Po")
        await chat.send_text("Do you have XL?")
        typo = await chat.send_text("in blue, pls")
        typo_id = typo["business_message"]["message_id"]
        await chat.edit(typo_id, "in blue, please")
        await chat.owner_says("Let me check")
        gone = await chat.send_text("never mind")
        await chat.delete(gone["business_message"]["message_id"])
        assert [d.status for d in emu.deliveries] == [200] * 7

    stored = connection_of("tg", conn.connection_id)
    assert stored is not None and stored.can_reply and stored.enabled
    assert (stored.owner_user_id, stored.owner_name, stored.owner_username) == (
        500,
        "Olga",
        "olga_shop",
    )
    client = Client.get()  # one client: the owner's own message is not a second person
    assert client.messenger_id == f"biz:{conn.connection_id}:77" and client.name == "Cy Po"
    assert is_unread(client.id)
    rows = list(Message.select().where(Message.client == client.id).order_by(Message.id))
    assert [(m.author_kind, m.direction, m.text) for m in rows] == [
        ("client", "in", "Do you have XL?"),
        ("client", "in", "in blue, pls"),
        ("client", "in", "in blue, please"),
        ("operator", "out", "Let me check"),
        ("client", "in", "never mind"),
        ("system", "in", "deleted 1 message"),
    ]
    assert rows[2].extra["edited"] and rows[3].status is None
    assert rows[4].extra["deleted"] and not rows[0].extra.get("deleted")

    card = run(staff["admin"], f"/client {client.id}").text
    assert "💼 Business chat of Olga @olga_shop: replies go through" in card
    assert "Owner: Let me check" in card and "never mind (deleted)" in card

    answer = run(staff["admin"], f"/reply {client.id} Yes, XL in blue is in stock")
    assert not answer.error, answer.text
    row = Message.get((Message.client == client.id) & (Message.status == "queued"))
    sent = await asyncio.to_thread(deliver_now, settings, row.id)
    assert sent.status == "sent", sent.error_text
    (reply,) = emu.sent(TOKEN, chat_id=77)
    assert reply.text == "Yes, XL in blue is in stock"
    assert reply.params["business_connection_id"] == conn.connection_id


async def test_a_disabled_connection_refuses_replies(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    staff = make_staff()
    settings = settings_for(emu.base_url, business=True)
    async with serve(settings) as base:
        await register(emu, base)
        conn = await emu.connect_business(TOKEN, 500, "Olga")
        chat = emu.business_chat(TOKEN, conn.connection_id, 77, "Cy")
        await chat.send_text("hello?")
        client = Client.get()
        early = outbox.enqueue(client, "queued before the owner turned us off")
        await emu.change_business(TOKEN, conn.connection_id, enabled=False)
        assert [d.status for d in emu.deliveries] == [200, 200, 200]

    assert BusinessConnection.get().enabled is False
    refused = run(staff["admin"], f"/reply {client.id} are you there?")
    assert refused.error and "Telegram Business" in refused.text
    failed = await asyncio.to_thread(deliver_now, settings, early.id)
    assert failed.status == "failed"
    assert "Business connection of Olga is disabled" in (failed.error_text or "")
    assert emu.calls_of("sendMessage") == []  # refused here, Telegram never asked
    assert "the bot is turned off there" in run(staff["admin"], f"/client {client.id}").text


async def test_polling_asks_for_the_business_updates(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    settings = settings_for(emu.base_url, mode="polling", poll_timeout_s=1, business=True)
    conn = await emu.connect_business(TOKEN, 500, "Olga")
    chat = emu.business_chat(TOKEN, conn.connection_id, 77, "Cy")
    await chat.send_text("via getUpdates")
    async with serve(settings):
        await emu.wait_for(lambda: Message.select().count() == 1, timeout_s=10)
    assert BusinessConnection.get().connection_id == conn.connection_id
    assert Message.get().text == "via getUpdates"
    (poll, *_) = emu.calls_of("getUpdates")
    assert set(BUSINESS_KINDS) <= set(poll.params["allowed_updates"])
