"""Service events (issue 16 item 4): Telegram service messages, reactions and join requests,
WhatsApp system and reaction messages — stored as F7's "Service events" (``author_kind``
``system``) that leave the client read and are not their last message; a join request is
approved or declined from the admin bot and reaches the Bot API emulator.

Fixtures are written from the Bot API and Cloud API documentation's object shapes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import peewee
import pytest

from bots.telegram.service import SERVICE_FIELDS
from bots.telegram.updates import USED_KINDS, parse_update
from commands.admin.cards import load_card_data
from commands.admin.notify import Claimed, plan
from commands.write import deliver_now
from emulators import whatsapp_payloads as wp
from emulators.telegram import TelegramEmulator
from emulators.whatsapp import GraphEmulator
from store.clients.unread import is_unread, mark_read
from store.inbound import last_inbound_at, record_inbound
from store.models import Client, Message
from tests import test_admin_telegram as admin_tg
from tests import whatsapp_support
from tests.admin_support import buttons, make_staff, press, run
from tests.telegram_support import TOKEN, register_webhook, settings_for
from tests.whatsapp_support import PHONE_ID, serve

BOB = {"id": 7, "is_bot": False, "first_name": "Bob", "last_name": "Ray"}
ANN_ID = 42
GROUP: dict[str, Any] = {"id": -1001500, "type": "supergroup", "title": "Fans"}
LATER = 4_000_000_000  # a message date far after the test runs: it must not move last action

# One documented value per service field, and a fragment of the text the dialog shows.
SAMPLES: dict[str, tuple[Any, str]] = {
    "new_chat_members": ([BOB], "joined: Bob Ray"),
    "left_chat_member": (BOB, "left: Bob Ray"),
    "new_chat_title": ("Fans 2024", "«Fans 2024»"),
    "new_chat_photo": (
        [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}],
        "chat photo",
    ),
    "delete_chat_photo": (True, "deleted the chat photo"),
    "group_chat_created": (True, "created the group"),
    "supergroup_chat_created": (True, "created the supergroup"),
    "channel_chat_created": (True, "created the channel"),
    "message_auto_delete_timer_changed": ({"message_auto_delete_time": 86400}, "86400 s"),
    "migrate_to_chat_id": (-1001234, "-1001234"),
    "migrate_from_chat_id": (-1234, "-1234"),
    "pinned_message": (
        {"message_id": 2, "date": 1_700_000_000, "chat": GROUP, "text": "Sale today!"},
        "pinned «Sale today!»",
    ),
    "successful_payment": (
        {
            "currency": "USD",
            "total_amount": 1250,
            "invoice_payload": "order-7",
            "telegram_payment_charge_id": "tg-c",
            "provider_payment_charge_id": "pr-c",
        },
        "paid 12.50 USD",
    ),
    "refunded_payment": (
        {
            "currency": "XTR",
            "total_amount": 50,
            "invoice_payload": "order-8",
            "telegram_payment_charge_id": "tg-d",
        },
        "50 XTR",
    ),
    "users_shared": ({"request_id": 1, "users": [{"user_id": 9, "first_name": "Cy"}]}, "Cy"),
    "chat_shared": ({"request_id": 2, "chat_id": -100777}, "-100777"),
    "connected_website": ("shop.example", "shop.example"),
    "write_access_allowed": ({"from_request": True}, "allowed the bot"),
    "proximity_alert_triggered": ({"traveler": BOB, "watcher": BOB, "distance": 90}, "proximity"),
    "boost_added": ({"boost_count": 3}, "3 boosts"),
    "chat_background_set": ({"type": {"type": "fill", "dark_theme_dimming": 0}}, "background"),
    "checklist_tasks_done": ({"marked_as_done_task_ids": [1]}, "done"),
    "checklist_tasks_added": ({"tasks": [{"id": 2, "text": "Pack"}]}, "added checklist"),
    "direct_message_price_changed": ({"are_direct_messages_enabled": True}, "price"),
    "paid_message_price_changed": ({"paid_message_star_count": 10}, "price"),
    "forum_topic_created": ({"name": "Orders", "icon_color": 7322096}, "«Orders»"),
    "forum_topic_edited": ({"name": "Orders 2"}, "edited a topic"),
    "forum_topic_closed": ({}, "closed a topic"),
    "forum_topic_reopened": ({}, "reopened a topic"),
    "general_forum_topic_hidden": ({}, "hid"),
    "general_forum_topic_unhidden": ({}, "showed"),
    "giveaway_created": ({"prize_star_count": 100}, "giveaway"),
    "giveaway_completed": ({"winner_count": 1}, "giveaway ended"),
    "video_chat_scheduled": ({"start_date": 1_700_000_000}, "scheduled a video chat"),
    "video_chat_started": ({}, "started a video chat"),
    "video_chat_ended": ({"duration": 120}, "120 s"),
    "video_chat_participants_invited": ({"users": [BOB]}, "invited to the video chat: Bob"),
    "web_app_data": ({"data": "size=XL", "button_text": "Order"}, "size=XL"),
    "gift": ({"gift": {"id": "g1", "star_count": 15}}, "sent a gift"),
    "unique_gift": ({"gift": {"base_name": "Cap"}, "origin": "upgrade"}, "unique gift"),
    "suggested_post_approved": ({"send_date": 1_700_000_000}, "approved"),
    "suggested_post_declined": ({"comment": "no"}, "declined"),
    "suggested_post_paid": ({"currency": "XTR"}, "paid"),
    "suggested_post_refunded": ({"reason": "post_deleted"}, "refunded"),
    "suggested_post_approval_failed": ({"price": {"currency": "XTR", "amount": 5}}, "could not"),
}


def service_message(field: str, value: Any, *, chat: dict[str, Any] = GROUP) -> dict[str, Any]:
    return {"message_id": 11, "date": LATER, "chat": chat, "from": BOB, field: value}


def test_every_service_field_has_a_fixture() -> None:
    assert set(SAMPLES) == set(SERVICE_FIELDS)


@pytest.mark.parametrize("field", sorted(SAMPLES))
def test_each_service_message_kind_is_a_service_event(field: str) -> None:
    value, fragment = SAMPLES[field]
    parsed = parse_update("tg", {"update_id": 5, "message": service_message(field, value)})
    assert parsed is not None
    event = parsed.event
    assert event.author_kind == "system" and not event.mark_unread
    assert event.extra["service"] == field and fragment in event.text
    assert event.messenger_id == str(GROUP["id"]) and event.attachments == ()


def test_a_new_chat_photo_is_not_a_photo_from_the_client() -> None:
    value, _ = SAMPLES["new_chat_photo"]
    parsed = parse_update(
        "tg", {"update_id": 6, "message": service_message("new_chat_photo", value)}
    )
    assert parsed is not None and parsed.event.attachments == ()


def test_reactions_and_join_requests_are_asked_for() -> None:
    assert {"message_reaction", "chat_join_request"} <= set(USED_KINDS)


def test_reaction_update_set_and_removed() -> None:
    chat = {"id": ANN_ID, "type": "private", "first_name": "Ann"}
    user = {"id": ANN_ID, "is_bot": False, "first_name": "Ann"}
    thumbs = [{"type": "emoji", "emoji": "👍"}]
    body = {"chat": chat, "message_id": 3, "user": user, "date": LATER}
    added = parse_update(
        "tg",
        {"update_id": 7, "message_reaction": {**body, "old_reaction": [], "new_reaction": thumbs}},
    )
    removed = parse_update(
        "tg",
        {"update_id": 8, "message_reaction": {**body, "old_reaction": thumbs, "new_reaction": []}},
    )
    assert added is not None and removed is not None
    assert (added.event.text, removed.event.text) == ("reacted 👍", "removed the reaction 👍")
    for event in (added.event, removed.event):
        assert event.author_kind == "system" and not event.mark_unread
        assert event.extra["reaction"]["message_id"] == 3 and event.messenger_id == "42"


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(tokens=[TOKEN], limits=False) as emulator:
        yield emulator


async def register(emu: TelegramEmulator, base: str) -> None:
    await register_webhook(emu.base_url, base, business=False)


def notified_texts() -> list[str]:
    """What a notification round over every stored message would tell the admin."""
    newest = Message.select(peewee.fn.MAX(Message.id)).scalar() or 0
    return [n.reply.text for n in plan(Claimed(0, newest), max_single=50)]


async def test_service_events_leave_the_client_read_and_last_message_alone(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    staff = make_staff()
    async with serve(settings_for(emu.base_url)) as base:
        await register(emu, base)
        ann = emu.user(TOKEN, ANN_ID, first_name="Ann")
        hello = await ann.send_text("hello")
        client = Client.get(Client.messenger_id == str(ANN_ID))
        assert is_unread(client.id)
        mark_read([client.id])
        before = Client.get_by_id(client.id).last_action_at
        said_at = last_inbound_at(client.id)
        chat = ann.state.as_chat()
        pin = service_message("pinned_message", {**hello["message"], "text": "hello"}, chat=chat)
        pin["from"] = ann.state.as_user()
        await emu.inject(TOKEN, {"message": pin})
        await ann.react(hello["message"]["message_id"], "👍")
        await ann.react(hello["message"]["message_id"], None, old="👍")
        emu.group(TOKEN, GROUP["id"], "Fans", kind="supergroup")
        await emu.inject(TOKEN, {"message": service_message("video_chat_started", {})})
        assert all(d.status == 200 for d in emu.deliveries) and len(emu.deliveries) == 5

    after = Client.get_by_id(client.id)
    assert not is_unread(after.id) and after.last_action_at == before
    assert last_inbound_at(client.id) == said_at
    events = list(Message.select().where(Message.author_kind == "system").order_by(Message.id))
    assert [e.text for e in events] == [
        "pinned «hello»",
        "reacted 👍",
        "removed the reaction 👍",
        "started a video chat",
    ]
    assert all(e.direction == "in" for e in events)
    group = Client.get(Client.messenger_id == str(GROUP["id"]))
    assert not is_unread(group.id) and group.name == "Fans"
    card = load_card_data([client.id], staff["admin"])
    assert card.last[client.id].text == "hello"
    (notice,) = notified_texts()  # the text only: service events notify nobody
    assert notice.endswith("\nhello")
    shown = run(staff["admin"], f"/client {client.id}").text
    assert "Service: reacted 👍" in shown and "Service: pinned «hello»" in shown


async def test_join_request_approved_and_declined_from_the_admin_bot(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    staff = make_staff()
    settings = settings_for(emu.base_url)
    club = emu.group(TOKEN, -1009001, "Club", kind="supergroup")
    async with serve(settings) as base:
        await register(emu, base)
        ann = emu.user(TOKEN, ANN_ID, first_name="Ann")
        bob = emu.user(TOKEN, 7, first_name="Bob")
        await ann.request_join(club.chat_id, bio="I like clubs")
        await bob.request_join(club.chat_id)
        assert [d.status for d in emu.deliveries] == [200, 200]

    request = Message.get(Message.dedup_key.startswith("tg:join:"))
    assert request.author_kind == "system" and request.text == "asks to join «Club»"
    assert request.extra["join_request"] == {
        "chat_id": club.chat_id,
        "chat_title": "Club",
        "user_id": ANN_ID,
    }
    ann_client = Client.get(Client.messenger_id == str(ANN_ID))
    assert is_unread(ann_client.id) and ann_client.name == "Ann"  # an operator has to answer it
    notices = [n for n in plan(Claimed(0, request.id + 1), max_single=5)]
    assert any(
        b.data == f"jr:a:{request.id}" for n in notices for row in n.reply.buttons for b in row
    )

    card = run(staff["admin"], f"/client {ann_client.id}")
    decided = press(staff["admin"], card, "Approve «Club»")
    assert "approved" in decided.text
    row = Message.get((Message.client == ann_client.id) & (Message.direction == "out"))
    assert row.status == "queued" and row.extra["action"] == "approve_chat_join_request"
    again = press(staff["admin"], card, "Approve «Club»")
    assert again.notice == "Already approved."
    assert Message.select().where(Message.direction == "out").count() == 1
    sent = await asyncio.to_thread(deliver_now, settings, row.id)
    assert sent.status == "sent", sent.error_text
    assert emu.bots[TOKEN].join_requests[(club.chat_id, ANN_ID)] == "approved"
    (call,) = emu.calls_of("approveChatJoinRequest")
    assert (int(call.params["chat_id"]), int(call.params["user_id"])) == (club.chat_id, ANN_ID)
    assert not any(
        b.data and b.data.startswith("jr:")
        for b in buttons(run(staff["admin"], f"/client {ann_client.id}"))
    )

    bob_client = Client.get(Client.messenger_id == "7")
    bob_card = run(staff["operator"], f"/client {bob_client.id}")  # a free client
    press(staff["operator"], bob_card, "❌ Decline")
    declined = Message.get((Message.client == bob_client.id) & (Message.direction == "out"))
    assert (await asyncio.to_thread(deliver_now, settings, declined.id)).status == "sent"
    assert emu.bots[TOKEN].join_requests[(club.chat_id, 7)] == "declined"
    assert (
        "❌ Declined the request to join «Club»"
        in run(staff["operator"], f"/client {bob_client.id}").text
    )


async def test_whatsapp_reaction_and_system_messages_are_service_events(
    db: peewee.Database,
) -> None:
    sender = "16315551181"
    settings = whatsapp_support.settings_for()
    async with (
        serve(settings) as base,
        GraphEmulator(app_secret=whatsapp_support.APP_SECRET) as meta,
    ):
        url = f"{base}/webhooks/whatsapp/wa"
        first = wp.envelope(PHONE_ID, messages=[wp.text(sender, "hi", wamid="wamid.hi")])
        assert (await meta.post_webhook(url, first))[0] == 200
        client = Client.get(Client.messenger_id == f"+{sender}")
        mark_read([client.id])
        before = Client.get_by_id(client.id).last_action_at
        later = int(dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp())
        service = [
            wp.reaction(sender, "wamid.hi", "❤️", wamid="wamid.r", timestamp=later),
            wp.system(
                sender,
                "Kerry changed from +1 631 to +1 632",
                "16325551181",
                wamid="wamid.s",
                timestamp=later,
            ),
        ]
        status, body = await meta.post_webhook(url, wp.envelope(PHONE_ID, messages=service))
        assert status == 200 and json.loads(body)["messages"] == 2

    after = Client.get_by_id(client.id)
    assert not is_unread(after.id) and after.last_action_at == before
    rows = {m.platform_message_id: m for m in Message.select().where(Message.client == client)}
    assert rows["wamid.r"].author_kind == rows["wamid.s"].author_kind == "system"
    assert rows["wamid.r"].text == "reacted ❤️"
    assert rows["wamid.s"].text.startswith("Kerry changed")
    assert rows["wamid.s"].extra["system"]["wa_id"] == "16325551181"
    assert last_inbound_at(client.id) == rows["wamid.hi"].created_at


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the transport, not the store
async def test_join_request_approved_through_the_telegram_admin_bot(
    db: peewee.Database, db_url: str, tmp_path: Path
) -> None:
    """Notification with the buttons -> an admin taps Approve in Telegram -> outbox -> the
    delivery engine -> approveChatJoinRequest at the Bot API; a colleague's later tap on
    Decline changes nothing."""
    async with admin_tg.running(db_url, tmp_path) as env:
        await env.admin.run_round()  # the first round only places the cursor
        olga = env.emu.user(admin_tg.CLIENT_TOKEN, 5551, first_name="Olga")
        club = env.emu.group(admin_tg.CLIENT_TOKEN, -1007770, "Club", kind="supergroup")
        update = await olga.request_join(club.chat_id, bio="hi")
        parsed = parse_update("shop_tg", update)
        assert parsed is not None
        record_inbound(parsed.event)
        assert await env.admin.run_round() == 2  # both admins: the client is free

        anna_note, artem_note = env.sent_to(admin_tg.ANNA)[-1], env.sent_to(admin_tg.ARTEM)[-1]
        assert "asks to join «Club»" in (anna_note.text or "")
        admin_buttons = [b["text"] for b in anna_note.buttons()]
        assert admin_buttons[:2] == ["✅ Approve", "❌ Decline"]
        await env.emu.press(
            admin_tg.TOKEN, admin_tg.ANNA, anna_note, anna_note.buttons()[0]["callback_data"]
        )
        row = Message.get(Message.direction == "out")
        assert row.extra["action"] == "approve_chat_join_request"
        sent = await asyncio.to_thread(deliver_now, env.settings, row.id)
        assert sent.status == "sent", sent.error_text
        assert env.emu.bots[admin_tg.CLIENT_TOKEN].join_requests[(club.chat_id, 5551)] == "approved"

        await env.emu.press(
            admin_tg.TOKEN, admin_tg.ARTEM, artem_note, artem_note.buttons()[1]["callback_data"]
        )
        toasts = [a.get("text") or "" for a in env.emu.bots[admin_tg.TOKEN].answers]
        assert "Already approved." in toasts
        assert Message.select().where(Message.direction == "out").count() == 1
        assert env.emu.bots[admin_tg.CLIENT_TOKEN].join_requests[(club.chat_id, 5551)] == "approved"


async def test_reactions_and_join_requests_arrive_by_long_polling_too(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    settings = settings_for(emu.base_url, mode="polling", poll_timeout_s=1)
    ann = emu.user(TOKEN, ANN_ID, first_name="Ann")
    club = emu.group(TOKEN, -1009002, "Club", kind="supergroup")
    hello = await ann.send_text("hello")
    await ann.react(hello["message"]["message_id"], "🔥")
    await ann.request_join(club.chat_id)
    async with serve(settings):
        await emu.wait_for(lambda: Message.select().count() == 3, timeout_s=10)
    assert [(m.author_kind, m.text) for m in Message.select().order_by(Message.id)] == [
        ("client", "hello"),
        ("system", "reacted 🔥"),
        ("system", "asks to join «Club»"),
    ]
    (poll, *_) = emu.calls_of("getUpdates")
    assert {"message_reaction", "chat_join_request"} <= set(poll.params["allowed_updates"])
