"""Signed Cloud API webhooks into the store, through ``serve``'s app over loopback HTTP."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import peewee

from emulators import whatsapp_payloads as wp
from emulators.whatsapp import GraphEmulator
from store.clients.unread import is_unread
from store.db import database_proxy, make_database
from store.models import Bot, Client, Message
from tests.whatsapp_support import APP_SECRET, PHONE_ID, VERIFY_TOKEN, serve, settings_for

KERRY = "16315551181"
ANNA = "447700900123"


def hook(base: str, bot: str = "wa") -> str:
    return f"{base}/webhooks/whatsapp/{bot}"


async def get(url: str, **params: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url, params=params) as response:
        return response.status, await response.text()


def every_type(sender: str) -> list[dict[str, Any]]:
    card = {"name": {"formatted_name": "Bob"}, "phones": [{"phone": "+1 555", "wa_id": "1555"}]}
    return [
        wp.text(sender, "hello", wamid="wamid.text"),
        wp.media("image", sender, "101", mime_type="image/jpeg", caption="pic", wamid="wamid.img"),
        wp.media("audio", sender, "102", mime_type="audio/ogg", voice=True, wamid="wamid.voice"),
        wp.media("video", sender, "103", mime_type="video/mp4", wamid="wamid.video"),
        wp.media(
            "document",
            sender,
            "104",
            mime_type="application/pdf",
            filename="a.pdf",
            wamid="wamid.doc",
        ),
        wp.media("sticker", sender, "105", mime_type="image/webp", wamid="wamid.sticker"),
        wp.location(sender, 1.5, 2.5, name="Shop", wamid="wamid.loc"),
        wp.contacts(sender, [card], wamid="wamid.contacts"),
        wp.button_reply(sender, "b1", "Yes", wamid="wamid.button"),
        wp.list_reply(sender, "r1", "Large", wamid="wamid.list"),
        wp.template_button(sender, "Stop", "STOP", wamid="wamid.tbutton"),
        wp.reaction(sender, "wamid.text", "\u2764\ufe0f", wamid="wamid.reaction"),
        wp.unsupported(sender, wamid="wamid.unsupported"),
    ]


async def test_every_inbound_type_round_trips_once(db: peewee.Database) -> None:
    async with serve(settings_for()) as base, GraphEmulator(app_secret=APP_SECRET) as meta:
        payload = wp.envelope(
            PHONE_ID,
            messages=[*every_type(KERRY), wp.text(ANNA, "hi", wamid="wamid.anna")],
            profiles={KERRY: "Kerry Fisher", ANNA: "Anna"},
        )
        status, body = await meta.post_webhook(hook(base), payload)
        assert status == 200, body
        assert json.loads(body)["messages"] == 14
        again, body = await meta.post_webhook(hook(base), payload)  # Meta redelivers
        assert again == 200 and json.loads(body)["messages"] == 0

    kerry = Client.get(Client.messenger_id == "+16315551181")
    assert kerry.name == "Kerry Fisher" and is_unread(kerry.id)
    assert Client.get(Client.messenger_id == "+447700900123").name == "Anna"
    rows = {m.platform_message_id: m for m in Message.select().where(Message.client == kerry)}
    assert len(rows) == 13 and Message.select().count() == 14
    assert all(m.direction == "in" for m in rows.values())
    assert {w for w, m in rows.items() if m.author_kind != "client"} == {"wamid.reaction"}
    assert all(m.dedup_key == f"wa:{wamid}" for wamid, m in rows.items())
    assert rows["wamid.text"].text == "hello"
    kinds = {
        wamid: (rows[wamid].attachments[0]["kind"], rows[wamid].attachments[0].get("file_id"))
        for wamid in ("wamid.img", "wamid.voice", "wamid.video", "wamid.doc", "wamid.sticker")
    }
    assert kinds == {
        "wamid.img": ("photo", "101"),
        "wamid.voice": ("voice", "102"),
        "wamid.video": ("video", "103"),
        "wamid.doc": ("document", "104"),
        "wamid.sticker": ("sticker", "105"),
    }
    assert rows["wamid.img"].text == "pic"
    assert rows["wamid.doc"].attachments[0]["file_name"] == "a.pdf"
    assert rows["wamid.loc"].attachments[0]["extra"]["latitude"] == 1.5
    assert rows["wamid.contacts"].attachments[0]["extra"]["phones"][0]["wa_id"] == "1555"
    assert rows["wamid.button"].extra["reply"]["id"] == "b1"
    assert rows["wamid.list"].text == "Large"
    assert rows["wamid.tbutton"].extra["reply"]["payload"] == "STOP"
    assert rows["wamid.reaction"].extra["reaction"]["message_id"] == "wamid.text"
    assert rows["wamid.unsupported"].extra["type"] == "unsupported"


def outbound(client: Client, wamid: str, status: str = "sent") -> Message:
    return Message.create(
        client=client,
        bot=client.bot_id,
        direction="out",
        author_kind="operator",
        text="ours",
        platform_message_id=wamid,
        status=status,
    )


async def test_statuses_move_our_messages_forward_only(db: peewee.Database) -> None:
    async with serve(settings_for()) as base, GraphEmulator(app_secret=APP_SECRET) as meta:
        bot = Bot.get(Bot.name == "wa")
        other_bot = Bot.create(name="other", kind="whatsapp")
        client = Client.create(bot=bot, messenger_id="+16315551181")
        stranger = Client.create(bot=other_bot, messenger_id="+16315551181")
        read_one = outbound(client, "wamid.R")
        failed_one = outbound(client, "wamid.F")
        foreign = outbound(stranger, "wamid.R")  # same wamid, another bot: never touched

        async def statuses(*entries: dict[str, Any]) -> dict[str, Any]:
            status, body = await meta.post_webhook(
                hook(base), wp.envelope(PHONE_ID, statuses=list(entries))
            )
            assert status == 200, body
            return dict(json.loads(body))

        def state(message: Message) -> tuple[str | None, str | None, str | None]:
            row = Message.get_by_id(message.id)
            return row.status, row.error_code, row.error_text

        assert (await statuses(wp.status("wamid.R", "delivered", KERRY)))["receipts"] == 1
        assert state(read_one)[0] == "delivered"
        await statuses(wp.status("wamid.R", "read", KERRY))
        late = await statuses(
            wp.status("wamid.R", "sent", KERRY),
            wp.status("wamid.R", "delivered", KERRY),
            wp.status("wamid.R", "read", KERRY),  # redelivered
            wp.status("wamid.unknown", "read", KERRY),  # not ours
        )
        assert late["receipts"] == 0
        assert state(read_one) == ("read", None, None)
        await statuses(
            wp.status(
                "wamid.F",
                "failed",
                KERRY,
                error_code=131026,
                error_title="Message Undeliverable",
                error_details="Unable to deliver message.",
            )
        )
        failed = ("failed", "131026", "Message Undeliverable: Unable to deliver message.")
        assert state(failed_one) == failed
        await statuses(wp.status("wamid.F", "sent", KERRY))  # a late 'sent' keeps the failure
        assert state(failed_one) == failed
        assert state(foreign) == ("sent", None, None)
        # A 'failed' after 'read' is stale: the message was read.
        await statuses(wp.status("wamid.R", "failed", KERRY, error_code=131000))
        assert state(read_one) == ("read", None, None)


async def test_signature_missing_or_wrong_stores_nothing(sqlite_db: peewee.Database) -> None:
    payload = wp.envelope(PHONE_ID, messages=[wp.text(KERRY, "hi")], profiles={KERRY: "K"})
    async with serve(settings_for()) as base, GraphEmulator(app_secret=APP_SECRET) as meta:
        assert (await meta.post_webhook(hook(base), payload, signature=None))[0] == 401
        wrong = "sha256=" + "0" * 64
        assert (await meta.post_webhook(hook(base), payload, signature=wrong))[0] == 403
        assert (await meta.post_webhook(hook(base), payload, signature="garbage"))[0] == 403
        impostor = GraphEmulator(app_secret="not-the-app-secret")
        assert (await impostor.post_webhook(hook(base), payload))[0] == 403
        await impostor.stop()
        assert Message.select().count() == 0 and Client.select().count() == 0
        assert (await meta.post_webhook(hook(base), payload))[0] == 200
        assert Message.select().count() == 1


async def test_verification_handshake(sqlite_db: peewee.Database) -> None:
    async with serve(settings_for()) as base:
        ok = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158"}
        assert await get(hook(base), **ok) == (200, "1158")
        assert (await get(hook(base), **{**ok, "hub.verify_token": "nope"}))[0] == 403
        assert (await get(hook(base), **{**ok, "hub.mode": "unsubscribe"}))[0] == 403
        assert (await get(hook(base), **{"hub.challenge": "1"}))[0] == 403
        assert (await get(hook(base, "nobody"), **ok))[0] == 404


async def test_bad_bodies_are_4xx_and_store_nothing(sqlite_db: peewee.Database) -> None:
    async with serve(settings_for()) as base, GraphEmulator(app_secret=APP_SECRET) as meta:
        assert (await meta.post_webhook(hook(base), b"{not json"))[0] == 400
        assert (await meta.post_webhook(hook(base), b"[1, 2]"))[0] == 400
        assert (await meta.post_webhook(hook(base), {"object": "page"}))[0] == 400
        huge = b'{"object": "whatsapp_business_account", "pad": "' + b"x" * (1 << 20) + b'"}'
        assert (await meta.post_webhook(hook(base), huge))[0] == 413
        payload = wp.envelope(PHONE_ID, messages=[wp.text(KERRY, "hi")])
        assert (await meta.post_webhook(hook(base, "nobody"), payload))[0] == 404
        assert Message.select().count() == 0


async def test_store_down_answers_503_and_the_redelivery_is_stored(db: peewee.Database) -> None:
    payload = wp.envelope(PHONE_ID, messages=[wp.text(KERRY, "hi", wamid="wamid.later")])
    async with serve(settings_for()) as base, GraphEmulator(app_secret=APP_SECRET) as meta:
        database_proxy.initialize(make_database("postgresql://postgres@127.0.0.1:1/down"))
        try:
            status, _ = await meta.post_webhook(hook(base), payload)
        finally:
            database_proxy.initialize(db)
        assert status == 503
        assert Message.select().count() == 0
        assert (await meta.post_webhook(hook(base), payload))[0] == 200
        assert Message.get().platform_message_id == "wamid.later"
