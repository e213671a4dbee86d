"""The ingest boundary through the real webhooks, on SQLite and PostgreSQL: what a hostile or
careless platform sends is cleaned, clipped or refused with 4xx — never a 500."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import peewee
import pytest

from bots.unusable import rejected_counts
from emulators import whatsapp_payloads as wp
from emulators.loopback import served
from emulators.telegram import TelegramEmulator
from emulators.whatsapp import GraphEmulator
from store.models import Client, Message, UnparsedItem
from store.unparsed import purge_unparsed, recent_unparsed, record_unparsed
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


def wa_hook(base: str) -> str:
    return f"{base}/webhooks/whatsapp/wa"


async def test_mixed_whatsapp_batch_stores_the_good_and_keeps_the_rest(
    db: peewee.Database, caplog: pytest.LogCaptureFixture
) -> None:
    # A message with neither a phone ("from") nor a BSUID (contacts[].user_id) for its sender.
    bsuid = {"id": "wamid.bsuid", "timestamp": "1700000000", "type": "text", "text": {"body": "?"}}
    payload = wp.envelope(PHONE_ID, messages=[wp.text(KERRY, "good", wamid="wamid.good"), bsuid])
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": "Kerry"}, "wa_id": KERRY}]
    payload["entry"].append({"id": "x", "changes": ["not a change"]})
    value["statuses"] = [{"id": "wamid.s", "status": ["sent"]}]
    async with serve(wa_settings()) as base, GraphEmulator(app_secret=APP_SECRET) as meta:
        status, body = await meta.post_webhook(wa_hook(base), payload)
        assert status == 200 and json.loads(body)["unusable"] == 3
        assert (await meta.post_webhook(wa_hook(base), payload))[0] == 200  # redelivered
    assert [m.text for m in Message.select()] == ["good"]
    assert [c.messenger_id for c in Client.select()] == [f"+{KERRY}"]
    kept = list(UnparsedItem.select().order_by(UnparsedItem.id))
    assert [(u.bot, u.channel, u.reason) for u in kept[:3]] == [
        ("wa", "whatsapp", "message.from"),
        ("wa", "whatsapp", "status.status"),
        ("wa", "whatsapp", "change"),
    ]
    assert json.loads(kept[0].payload) == bsuid
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("whatsapp wa: unusable item left out (message.from)" in w for w in warnings)
    assert not any("wamid.bsuid" in w for w in warnings)  # the log names no payload
    assert rejected_counts()[("wa", "message.from")] >= 2


FROMS: list[Any] = [True, False, 1.5, 16315551181, [KERRY], {"n": KERRY}, "", None]
FROMS += ["A" * 100_000, f"{KERRY[:5]}\u200b{KERRY[5:]}", "+" + KERRY, "1" * 21]


async def test_whatsapp_from_of_every_json_type_creates_no_client(db: peewee.Database) -> None:
    messages = [
        {"id": f"wamid.{i}", "from": sender, "type": "text", "text": {"body": "x"}}
        for i, sender in enumerate(FROMS)
    ]
    too_long = wp.text(KERRY, "x", wamid="wamid." + "W" * 507)  # 513 characters
    payload = wp.envelope(PHONE_ID, messages=[*messages, too_long])
    async with serve(wa_settings()) as base, GraphEmulator(app_secret=APP_SECRET) as meta:
        status, body = await meta.post_webhook(wa_hook(base), payload)
    assert status == 200 and json.loads(body)["unusable"] == len(FROMS) + 1
    assert Client.select().count() == 0 and Message.select().count() == 0
    assert {u.reason for u in UnparsedItem.select()} == {"message.from", "message.id"}
    assert max(len(u.payload) for u in UnparsedItem.select()) == 64 * 1024


async def test_whatsapp_string_shapes_are_read(db: peewee.Database) -> None:
    card = wp.contacts(KERRY, [{"name": "Bob Plain"}], wamid="wamid.card")
    failed = {"id": "wamid.out", "status": "failed", "errors": [{"code": 1, "error_data": "x"}]}
    payload = wp.envelope(PHONE_ID, messages=[card], statuses=[failed])
    async with serve(wa_settings()) as base, GraphEmulator(app_secret=APP_SECRET) as meta:
        assert (await meta.post_webhook(wa_hook(base), payload))[0] == 200
    assert [m.text for m in Message.select()] == ["Bob Plain"]


async def test_telegram_update_it_cannot_use_is_acknowledged_and_kept(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    out_of_range = tg_update(1)
    out_of_range["message"]["chat"]["id"] = 2**63
    async with serve(tg_settings(emu.base_url)) as base:
        assert await tg_post(tg_hook(base), out_of_range) == 200
        assert await tg_post(tg_hook(base), {"update_id": 2, "message": "text"}) == 200
        assert await tg_post(tg_hook(base), {"update_id": 2**64, "message": {}}) == 400
        assert await tg_post(tg_hook(base), tg_update(3)) == 200
    assert [m.dedup_key for m in Message.select()] == ["tg:update:3"]
    assert [(u.channel, u.reason) for u in UnparsedItem.select().order_by(UnparsedItem.id)] == [
        ("telegram", "message.chat.id"),
        ("telegram", "message"),
    ]


def test_unparsed_items_are_purged_after_seven_days(db: peewee.Database) -> None:
    now = dt.datetime(2026, 6, 1)
    record_unparsed("wa", "whatsapp", "message.from", "d", "{}", now=now - dt.timedelta(days=8))
    record_unparsed("wa", "whatsapp", "message.from", "d\x00", "x" * 70_000, now=now)
    assert purge_unparsed(now) == 1
    (kept,) = recent_unparsed()
    assert kept.detail == "d" and len(kept.payload) == 64 * 1024


async def test_unusable_items_on_metrics_and_ops(db: peewee.Database) -> None:
    from commands.delivery import install_delivery
    from commands.ops import install_ops
    from commands.web import build_app, install_channels
    from config import Settings
    from store.setup import sync_bots

    wa = wa_settings().bots[0].model_dump(mode="json")
    wa.update(app_secret=APP_SECRET, verify_token="v", access_token="t")
    settings = Settings.model_validate(
        {"broker_url": "memory://", "ops_token": "ops-token", "bots": [wa]}
    )
    sync_bots((b.name, b.kind) for b in settings.bots)
    app = build_app(settings, installers=[install_channels, install_delivery, install_ops])
    async with served(app) as base:
        bad = {"id": "wamid.x", "from": "<b>nope</b>", "type": "text", "text": {"body": "x"}}
        async with GraphEmulator(app_secret=APP_SECRET) as meta:
            payload = wp.envelope(PHONE_ID, messages=[bad])
            assert (await meta.post_webhook(wa_hook(base), payload))[0] == 200
        jar = aiohttp.CookieJar(unsafe=True)  # the dashboard's session cookie on 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            bearer = {"Authorization": "Bearer ops-token"}
            async with http.get(f"{base}/metrics", headers=bearer) as r:
                metrics = await r.text()
            async with http.get(f"{base}/ops?token=ops-token") as r:
                page = await r.text()
    found = re.search(
        r'^switchboard_ingest_rejected_total\{bot="wa",reason="message.from"\} (\d+)', metrics, re.M
    )
    assert found and int(found.group(1)) >= 1
    assert 'id="unparsed"' in page and "message.from" in page
    assert "&lt;b&gt;nope&lt;/b&gt;" in page and "<b>nope</b>" not in page  # escaped
