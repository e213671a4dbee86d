"""One bad update never fails or stalls the others: poison the database refuses, posted
through the real webhooks alongside valid Telegram updates and WhatsApp webhooks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import peewee
import pytest

from bots.whatsapp.signature import SIGNATURE_HEADER, sign
from config import Settings
from emulators import whatsapp_payloads as wp
from emulators.telegram import SECRET_HEADER, TelegramEmulator
from store.db import write_transaction
from store.models import Bot, Message, UnparsedItem
from store.write_health import FAILURES, WINDOW_S, WRITES, WriteHealth
from tests.poison import refused_texts
from tests.telegram_support import SECRET, TOKEN
from tests.whatsapp_support import APP_SECRET, PHONE_ID, VERIFY_TOKEN, serve


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(tokens=[TOKEN], limits=False) as emulator:
        yield emulator


def both_bots(api_base: str) -> Settings:
    return Settings.model_validate(
        {
            "bots": [
                {
                    "name": "tg",
                    "kind": "telegram",
                    "token": TOKEN,
                    "webhook_secret": SECRET,
                    "api_base": api_base,
                    "fetch_avatars": False,
                },
                {
                    "name": "wa",
                    "kind": "whatsapp",
                    "phone_number_id": PHONE_ID,
                    "access_token": "EAAtest-token",
                    "app_secret": APP_SECRET,
                    "verify_token": VERIFY_TOKEN,
                },
            ]
        }
    )


def update(n: int, text: str) -> dict[str, Any]:
    person = 1000 + n % 13
    return {
        "update_id": n,
        "message": {
            "message_id": n,
            "date": 1_700_000_000 + n,
            "chat": {"id": person, "type": "private", "first_name": f"P{person}"},
            "from": {"id": person, "is_bot": False, "first_name": f"P{person}"},
            "text": text,
        },
    }


async def post_telegram(http: aiohttp.ClientSession, base: str, body: dict[str, Any]) -> int:
    headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
    async with http.post(f"{base}/webhooks/telegram/tg", json=body, headers=headers) as r:
        return r.status


async def post_whatsapp(
    http: aiohttp.ClientSession, base: str, body: dict[str, Any]
) -> tuple[int, float]:
    """The status and how long the answer took (seconds)."""
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(raw, APP_SECRET)}
    started = time.perf_counter()
    async with http.post(f"{base}/webhooks/whatsapp/wa", data=raw, headers=headers) as r:
        await r.read()
        return r.status, time.perf_counter() - started


async def test_poison_fails_alone_and_stalls_nobody(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    texts = {n: f"poison {n}" if n % 4 == 1 else f"valid {n}" for n in range(1, 121)}
    wa_answers: list[tuple[int, float]] = []
    async with serve(both_bots(emu.base_url)) as base, aiohttp.ClientSession() as http:
        done = asyncio.Event()

        async def whatsapp_meanwhile() -> None:
            n = 0
            while not done.is_set() or n < 10:
                n += 1
                body = wp.envelope(PHONE_ID, messages=[wp.text(f"4477009{n:05d}", f"wa {n}")])
                wa_answers.append(await post_whatsapp(http, base, body))

        with refused_texts(db):
            meanwhile = asyncio.create_task(whatsapp_meanwhile())
            tg_answers: dict[int, int] = {}
            for wave in range(6):  # waves, so that WhatsApp requests land after failed batches
                numbers = list(texts)[wave * 20 : (wave + 1) * 20]
                statuses = await asyncio.gather(
                    *(post_telegram(http, base, update(n, texts[n])) for n in numbers)
                )
                tg_answers.update(zip(numbers, statuses, strict=True))
            done.set()
            await meanwhile
    valid = sorted(n for n, text in texts.items() if text.startswith("valid"))
    assert {n: tg_answers[n] for n in valid} == {n: 200 for n in valid}
    assert {tg_answers[n] for n in texts if n not in valid} == {200}  # acknowledged, kept:
    kept = UnparsedItem.select().where(UnparsedItem.reason == "update.store")
    assert sorted(json.loads(i.payload)["update_id"] for i in kept) == sorted(
        n for n in texts if n not in valid
    )
    tg_bot = Bot.get(Bot.name == "tg")
    keys = [
        m.dedup_key or "" for m in Message.select(Message.dedup_key).where(Message.bot == tg_bot)
    ]
    assert sorted(keys) == sorted(f"tg:update:{n}" for n in valid)  # each once
    assert {status for status, _ in wa_answers} == {200}
    slowest = max(seconds for _, seconds in wa_answers)
    assert slowest < 2.0, f"a valid WhatsApp request waited {slowest:.2f} s"


async def healthz(http: aiohttp.ClientSession, base: str) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{base}/healthz") as r:
        return r.status, await r.json()


async def test_healthz_says_degraded_while_writes_fail(
    db: peewee.Database, emu: TelegramEmulator
) -> None:
    WRITES.succeeded()  # whatever earlier tests in this process left
    ok = {"status": "ok", "store": "ok", "broker": "in-process"}
    async with serve(both_bots(emu.base_url)) as base, aiohttp.ClientSession() as http:
        assert await healthz(http, base) == (200, ok)
        for n in range(1, FAILURES + 1):  # writes the database refuses, e.g. a full disk
            with pytest.raises(peewee.IntegrityError), write_transaction():
                Bot.create(name=None, kind="telegram")
            status, body = await healthz(http, base)
            assert status == 200 and body["status"] == ("degraded" if n == FAILURES else "ok")
        assert body["store"].startswith(f"degraded: the last {FAILURES} writes failed, latest: ")
        assert "IntegrityError" in body["store"]
        assert await post_telegram(http, base, update(4, "stored")) == 200  # a write succeeds
        assert await healthz(http, base) == (200, ok)
    assert [m.text for m in Message.select()] == ["stored"]


def test_failed_writes_stop_counting_after_the_window() -> None:
    health = WriteHealth()
    for _ in range(FAILURES):
        health.failed(ValueError("disk full\nsecond line"))
    now = time.monotonic()
    assert health.degraded(now) == (
        f"the last {FAILURES} writes failed, latest: ValueError: disk full"
    )
    assert health.degraded(now + WINDOW_S + 1) is None  # an old streak is history
    health.failed(RuntimeError())
    assert health.degraded() is not None
    health.succeeded()
    assert health.degraded() is None
