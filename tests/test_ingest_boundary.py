"""The ingest boundary through the real webhooks, on SQLite and PostgreSQL: what a hostile or
careless platform sends is cleaned, clipped or refused with 4xx — never a 500."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import peewee
import pytest

from emulators import whatsapp_payloads as wp
from emulators.telegram import TelegramEmulator
from emulators.whatsapp import GraphEmulator
from store.models import Client, Message
from tests.telegram_support import OTHER_TOKEN, TOKEN
from tests.telegram_support import settings_for as tg_settings
from tests.test_telegram_ingest import hook as tg_hook
from tests.test_telegram_ingest import post as tg_post
from tests.whatsapp_support import APP_SECRET, PHONE_ID, serve
from tests.whatsapp_support import settings_for as wa_settings

KERRY = "16315551181"
FAR_FUTURE = 253402300799  # 9999-12-31T23:59:59Z


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(tokens=[TOKEN, OTHER_TOKEN], limits=False) as emulator:
        yield emulator


def tg_update(update_id: int, text: str = "hi", **user: Any) -> dict[str, Any]:
    sender = {"id": 5, "is_bot": False, "first_name": "Ann", **user}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": user.pop("date", 1_700_000_000),
            "chat": {
                "id": 5,
                "type": "private",
                **{k: v for k, v in sender.items() if k != "date"},
            },
            "from": sender,
            "text": text,
        },
    }


async def test_telegram_strings_are_cleaned_and_clipped(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    async with serve(tg_settings(emu.base_url)) as base:
        # A lone surrogate and NUL as the JSON escapes Telegram's JSON would carry.
        body = json.dumps(tg_update(1, "a\ud800b\x00c\x07d\te")).encode()
        assert b"\\ud800" in body and b"\\u0000" in body
        assert await tg_post(tg_hook(base), body) == 200
        long_update = tg_update(
            2, first_name="N" * 401, last_name="L", language_code="x" * 17, username="u" * 300
        )
        assert await tg_post(tg_hook(base), long_update) == 200
    first, second = Message.select().order_by(Message.id)
    assert first.text == "a\ufffdbcd\te"
    assert second.extra["clipped"] == ["language", "name", "username"]
    client = Client.get()
    assert client.name == "N" * 400 and client.language == "x" * 16
    assert client.username == "u" * 200


async def test_far_future_date_is_replaced_by_the_receive_time(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
    async with serve(tg_settings(emu.base_url)) as base:
        assert await tg_post(tg_hook(base), tg_update(1, date=FAR_FUTURE)) == 200
        assert await tg_post(tg_hook(base), tg_update(2, date=10**30)) == 200
        assert await tg_post(tg_hook(base), tg_update(3, date=-5)) == 200
    rows = list(Message.select().order_by(Message.id))
    assert [m.extra.get("sent_at_replaced") for m in rows] == [
        "9999-12-31T23:59:59",
        "9999-12-31T23:59:59",
        "1969-12-31T23:59:55",
    ]
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=1)
    assert all(before <= m.created_at <= after for m in rows)
    assert before <= Client.get().last_action_at <= after


async def test_whatsapp_strings_ids_and_dates(db: peewee.Database) -> None:
    long_wamid = "wamid." + "W" * 506  # 512 characters: the most Meta's ids may take
    messages = [
        wp.text(KERRY, "x\x00y\ud83dz", wamid=long_wamid),
        wp.text(KERRY, "future", wamid="wamid.future", timestamp=FAR_FUTURE),
    ]
    payload = wp.envelope(PHONE_ID, messages=messages, profiles={KERRY: "K\x00erry\udfff"})
    async with serve(wa_settings()) as base, GraphEmulator(app_secret=APP_SECRET) as meta:
        assert (await meta.post_webhook(f"{base}/webhooks/whatsapp/wa", payload))[0] == 200
        # redelivered: the long id still deduplicates
        assert (await meta.post_webhook(f"{base}/webhooks/whatsapp/wa", payload))[0] == 200
    first, second = Message.select().order_by(Message.id)
    assert first.text == "xy\ufffdz" and first.platform_message_id == long_wamid
    assert first.dedup_key is not None and len(first.dedup_key) <= 512
    assert second.extra["sent_at_replaced"] == "9999-12-31T23:59:59"
    assert Client.get().name == "Kerry\ufffd"


async def test_request_limits_answer_400(db: peewee.Database, emu: TelegramEmulator) -> None:
    deep = b'{"update_id": 1, "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    big_int = b'{"update_id": ' + b"7" * 5_000 + b"}"
    deep_wa = b'{"object": "whatsapp_business_account", "entry": ' + b"[" * 10_000 + b"]" * 10_000
    deep_wa += b"}"
    big_wa = b'{"object": "whatsapp_business_account", "n": -' + b"1" * 5_000 + b"}"
    async with serve(tg_settings(emu.base_url)) as base:
        assert await tg_post(tg_hook(base), deep) == 400
        assert await tg_post(tg_hook(base), big_int) == 400
        # digits inside strings are text, not numbers: accepted
        fine = tg_update(3, "9" * 5_000)
        assert await tg_post(tg_hook(base), fine) == 200
    async with serve(wa_settings()) as base, GraphEmulator(app_secret=APP_SECRET) as meta:
        assert (await meta.post_webhook(f"{base}/webhooks/whatsapp/wa", deep_wa))[0] == 400
        assert (await meta.post_webhook(f"{base}/webhooks/whatsapp/wa", big_wa))[0] == 400
    assert [m.text for m in Message.select()] == ["9" * 5_000]
