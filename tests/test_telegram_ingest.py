"""Telegram ingest end to end: the emulator pushes (or serves) updates, serve stores them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import peewee
import pytest

from bots.telegram.client import make_bot
from config import Settings
from emulators.telegram import SECRET_HEADER, TelegramEmulator
from store.clients.unread import is_unread
from store.db import database_proxy, make_database
from store.models import Client, Message, UnparsedItem, Variable
from tests.telegram_support import OTHER_TOKEN, SECRET, TOKEN, settings_for
from tests.whatsapp_support import serve

KEYBOARD = {"inline_keyboard": [[{"text": "Yes", "callback_data": "answer:yes"}]]}


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(tokens=[TOKEN, OTHER_TOKEN], limits=False) as emulator:
        yield emulator


async def register(emu: TelegramEmulator, base: str, token: str = TOKEN, name: str = "tg") -> None:
    bot = make_bot(token, emu.base_url)
    try:
        await bot.set_webhook(f"{base}/webhooks/telegram/{name}", secret_token=SECRET)
    finally:
        await bot.session.close()


def hook(base: str, name: str = "tg") -> str:
    return f"{base}/webhooks/telegram/{name}"


async def post(url: str, body: bytes | dict[str, object], secret: str | None = SECRET) -> int:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    async with aiohttp.ClientSession() as http, http.post(url, data=data, headers=headers) as r:
        return r.status


def messages() -> list[Message]:
    return list(Message.select().order_by(Message.id))


async def test_webhook_ingest_of_every_kind(db: peewee.Database, emu: TelegramEmulator) -> None:
    settings = settings_for(emu.base_url)
    async with serve(settings) as base:
        await register(emu, base)
        ann = emu.user(
            TOKEN, 42, first_name="Ann", last_name="Lee", username="ann", language_code="de"
        )
        avatar = ann.set_profile_photo(b"avatar-bytes")
        await ann.start("promo_42")
        await ann.send_text("hello")
        await ann.send_photo(b"jpeg-bytes", caption="my cat")
        await ann.send_document(b"%PDF-1.4", "bill.pdf", mime_type="application/pdf")
        first_text = await ann.send_text("typo")
        await ann.edit(first_text, "fixed")
        async with make_bot(TOKEN, emu.base_url) as bot:
            await bot.send_message(42, "Choose", reply_markup=KEYBOARD)  # type: ignore[arg-type]
        (question,) = emu.sent(TOKEN)
        await ann.press(question, "answer:yes")
        await ann.block()
        assert all(d.status == 200 for d in emu.deliveries) and len(emu.deliveries) == 8
        await emu.wait_for(lambda: emu.bots[TOKEN].answers, timeout_s=5)

        client = Client.get()
        assert (client.messenger_id, client.name, client.username, client.language) == (
            "42",
            "Ann Lee",
            "ann",
            "de",
        )
        assert is_unread(client.id) and client.unsubscribed
        rows = messages()
        assert [m.text for m in rows] == [
            "/start promo_42",
            "hello",
            "my cat",
            "",
            "typo",
            "fixed",
            "answer:yes",
            "blocked the bot",
        ]
        assert len({m.dedup_key for m in rows}) == 8
        assert Variable.get(Variable.name == "start_payload").value == "promo_42"
        photo = rows[2].attachments[0]
        assert photo["kind"] == "photo" and photo["size"] == len(b"jpeg-bytes") and photo["file_id"]
        assert rows[3].attachments == [
            {
                "kind": "document",
                "file_id": rows[3].attachments[0]["file_id"],
                "file_name": "bill.pdf",
                "mime_type": "application/pdf",
                "size": 8,
            }
        ]
        assert rows[5].extra["edited"] is True
        assert rows[6].extra["callback_data"] == "answer:yes"
        assert rows[7].author_kind == "system"
        assert all(m.direction == "in" for m in rows)

        await ann.unblock()
        assert not Client.get().unsubscribed

        await emu.wait_for(lambda: Client.get().avatar_url, timeout_s=5)
        avatar_url = Client.get().avatar_url
        assert avatar_url == f"/media/telegram/tg/{avatar.file_id}"
        assert TOKEN not in avatar_url
        async with aiohttp.ClientSession() as http, http.get(base + avatar_url) as r:
            assert r.status == 200 and await r.read() == b"avatar-bytes"
        async with aiohttp.ClientSession() as http, http.get(base + "/media/telegram/tg/nope") as r:
            assert r.status == 404


async def test_the_same_update_twice_stores_one_message(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    async with serve(settings_for(emu.base_url)) as base:
        update = {
            "update_id": 77,
            "message": {
                "message_id": 5,
                "date": 1_700_000_000,
                "chat": {"id": 9, "type": "private", "first_name": "Bo"},
                "from": {"id": 9, "is_bot": False, "first_name": "Bo"},
                "text": "twice",
            },
        }
        assert await post(hook(base), update) == 200
        assert await post(hook(base), update) == 200
        assert [m.text for m in messages()] == ["twice"]
        assert str(messages()[0].created_at) == "2023-11-14 22:13:20"


async def test_one_user_writing_to_two_bots_is_two_clients(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    settings = Settings.model_validate(
        {
            "bots": [
                {
                    "name": "tg",
                    "kind": "telegram",
                    "token": TOKEN,
                    "webhook_secret": SECRET,
                    "api_base": emu.base_url,
                },
                {
                    "name": "tg2",
                    "kind": "telegram",
                    "token": OTHER_TOKEN,
                    "webhook_secret": SECRET,
                    "api_base": emu.base_url,
                },
            ]
        }
    )
    async with serve(settings) as base:
        await register(emu, base, TOKEN, "tg")
        await register(emu, base, OTHER_TOKEN, "tg2")
        await emu.user(TOKEN, 42, first_name="Ann").send_text("to one")
        await emu.user(OTHER_TOKEN, 42, first_name="Ann").send_text("to two")
    clients = list(Client.select().order_by(Client.id))
    assert [(c.messenger_id, c.bot.name) for c in clients] == [("42", "tg"), ("42", "tg2")]


async def test_bad_input_answers_and_stores_nothing(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    update = {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 5}, "text": "x"}}
    async with serve(settings_for(emu.base_url)) as base:
        assert await post(hook(base), update, secret=None) == 401
        assert await post(hook(base), update, secret="wrong") == 401
        assert await post(hook(base), b"{not json") == 400
        assert await post(hook(base), b"[1, 2]") == 400
        assert await post(hook(base), {"message": {"text": "no update id"}}) == 400
        # an update of the wrong shape inside: unusable, acknowledged, kept aside (not stored)
        assert await post(hook(base), {"update_id": 2, "message": {"chat": "x"}}) == 200
        assert await post(hook(base), b"x" * (1024 * 1024 + 1)) == 413
        assert await post(hook(base, "nobody"), update) == 404
        assert await post(hook(base), {"update_id": 3, "channel_post": {"text": "x"}}) == 200
        assert Message.select().count() == 0 and Client.select().count() == 0
        assert [u.reason for u in UnparsedItem.select()] == ["message.chat"]
        assert await post(hook(base), update) == 200
        assert Message.select().count() == 1


async def test_store_down_answers_503_and_the_redelivery_is_stored(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    emu._pusher.redeliver_after_s = 0.05
    async with serve(settings_for(emu.base_url)) as base:
        await register(emu, base)
        database_proxy.initialize(make_database("postgresql://postgres@127.0.0.1:1/down"))
        try:
            await emu.user(TOKEN, 42).send_text("kept")
            assert emu.deliveries[-1].status == 503
        finally:
            database_proxy.initialize(db)
        await emu.wait_for(lambda: emu.deliveries[-1].status == 200, timeout_s=5)
        assert [m.text for m in messages()] == ["kept"]


async def test_generated_secret_is_read_from_the_store(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    from bots.telegram.secret import ensure_secret

    settings = settings_for(emu.base_url, webhook_secret=None)
    update = {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 5}, "text": "x"}}
    async with serve(settings) as base:
        assert await post(hook(base), update, secret=SECRET) == 401  # no secret anywhere yet
        generated = ensure_secret("tg")
        assert await post(hook(base), update, secret=generated) == 200
        assert await post(hook(base), update, secret=SECRET) == 401
    assert Message.select().count() == 1


async def test_long_polling_ingest(db: peewee.Database, emu: TelegramEmulator) -> None:
    settings = settings_for(emu.base_url, mode="polling", poll_timeout_s=1)
    async with make_bot(TOKEN, emu.base_url) as bot:
        await bot.set_webhook("http://127.0.0.1:9/unused")  # polling mode removes it
    ann = emu.user(TOKEN, 42, first_name="Ann")
    await ann.send_text("queued before start")
    async with serve(settings):
        await ann.start("from_ad")
        await ann.block()
        await emu.wait_for(lambda: Message.select().count() == 3, timeout_s=10)
        await ann.send_text("one more")
        await emu.wait_for(lambda: Message.select().count() == 4, timeout_s=10)
    assert emu.bots[TOKEN].webhook is None
    assert [m.text for m in messages()] == [
        "queued before start",
        "/start from_ad",
        "blocked the bot",
        "one more",
    ]
    client = Client.get()
    assert client.unsubscribed and Variable.get().value == "from_ad"
