"""``/metrics`` over real HTTP: every series at 0 on a fresh start, and the counters a send, a
failure, a retry, an inbound message and webhook requests move — aiogram against the Bot API
emulator, the delivery engine's real workers, the real Redis in ``redis://`` mode."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import peewee
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from commands.delivery import ENGINE_KEY, install_delivery
from commands.metrics import COUNTERS, OUTBOX_STATUSES, build_version
from commands.metrics_counting import UNKNOWN_BOT, webhook_bot
from commands.ops import install_ops
from commands.web import build_app, install_channels
from config import Settings
from emulators import whatsapp_payloads as wp
from emulators.loopback import served
from emulators.telegram import TelegramEmulator
from emulators.whatsapp import GraphEmulator
from store import outbox
from store.inbound import get_or_create_client
from store.models import Bot, Message
from store.setup import sync_bots
from tests.broadcast_rig import until
from tests.services import REDIS_URL, redis_namespace
from tests.telegram_support import SECRET, TOKEN
from tests.whatsapp_support import ACCESS_TOKEN, APP_SECRET, PHONE_ID, VERIFY_TOKEN
from workers.engine import Engine
from workers.stats import MemoryStats, RedisStats, Stats

OPS_TOKEN = "metrics-token-1"
BEARER = {"Authorization": f"Bearer {OPS_TOKEN}"}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _settings(broker: tuple[str, str], telegram_api: str | None = None) -> Settings:
    bots: list[dict[str, Any]] = [
        {"name": "tg", "kind": "telegram", "token": TOKEN, "webhook_secret": SECRET},
        {
            "name": "wa",
            "kind": "whatsapp",
            "phone_number_id": PHONE_ID,
            "access_token": ACCESS_TOKEN,
            "app_secret": APP_SECRET,
            "verify_token": VERIFY_TOKEN,
        },
        {
            "name": "mail",
            "kind": "email",
            "enabled": False,
            "imap": {"host": "imap.example.com", "user": "u", "password": "p"},
            "smtp": {"host": "smtp.example.com", "from_address": "shop@example.com"},
        },
    ]
    if telegram_api:
        bots[0]["api_base"] = telegram_api
    return Settings.model_validate(
        {
            "broker_url": broker[0],
            "ops_token": OPS_TOKEN,
            "bots": bots,
            "delivery": {
                "namespace": broker[1],
                "backoff_base_s": 0.05,
                "backoff_max_s": 0.2,
                "max_attempts": 3,
                "dispatch_interval_s": 0.05,
                "worker_threads": 2,
            },
        }
    )


@pytest.fixture(params=["memory", "redis"])
def broker(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    if request.param == "memory":
        yield "memory://", "sbtest"
    else:
        with redis_namespace() as prefix:
            yield REDIS_URL, prefix


@asynccontextmanager
async def serving(settings: Settings, *, channels: bool) -> AsyncIterator[tuple[str, Engine]]:
    """``serve``'s application on a free loopback port; in ``redis://`` mode this test runs
    the worker threads ``switchboard worker`` would run."""
    installers = [install_delivery, install_ops]
    app = build_app(
        settings, installers=[install_channels, *installers] if channels else installers
    )
    engine = app[ENGINE_KEY]
    assert isinstance(engine, Engine)
    separate = channels and not settings.broker_url.startswith("memory")
    try:
        async with served(app) as url:
            if separate:
                engine.start_dispatcher()
                engine.start_workers()
            yield url, engine
    finally:
        if separate:  # after the app's cleanup, as ``switchboard worker`` outlives ``serve``
            engine.stop()


async def scrape(http: aiohttp.ClientSession, url: str) -> Samples:
    async with http.get(f"{url}/metrics", headers=BEARER) as r:
        assert r.status == 200, await r.text()
        text = await r.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, f"no series {name}{labels}"
    return samples[key]


async def test_a_fresh_service_has_every_series_at_zero(
    db: peewee.Database, broker: tuple[str, str]
) -> None:
    settings = _settings(broker)
    async with serving(settings, channels=False) as (url, _), aiohttp.ClientSession() as http:
        samples = await scrape(http, url)
    for bot in ("tg", "wa", "mail"):
        for name, _doc, label, fixed in COUNTERS.values():
            for reason in fixed:
                assert value(samples, f"{name}_total", bot=bot, **{label: reason}) == 0
        for le in ("0.01", "1.0", "+Inf"):
            assert value(samples, "switchboard_send_latency_seconds_bucket", bot=bot, le=le) == 0
        assert value(samples, "switchboard_send_latency_seconds_count", bot=bot) == 0
        assert value(samples, "switchboard_bot_429_total", bot=bot) == 0
        assert value(samples, "switchboard_bot_last_retry_after_seconds", bot=bot) == 0
        assert value(samples, "switchboard_bot_rate_limit", bot=bot) > 0
        assert value(samples, "switchboard_bot_learned_rate", bot=bot) > 0
    assert value(samples, "switchboard_bot_up", bot="tg") == 1
    assert value(samples, "switchboard_bot_up", bot="mail") == 0  # disabled
    for status in OUTBOX_STATUSES:
        assert value(samples, "switchboard_outbox_messages", status=status) == 0
    assert value(samples, "switchboard_outbox_oldest_queued_seconds") == 0
    assert value(samples, "switchboard_build_info", version=build_version()) == 1
    assert value(samples, "switchboard_queue_depth", queue="dead") == 0
    # The client library's standard collectors, and no precomputed rate.
    assert value(samples, "process_cpu_seconds_total") > 0
    assert any(name == "python_info" for name, _ in samples)
    assert not any(
        "rate" in name and "limit" not in name and "learned" not in name for name, _ in samples
    )


def _update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    user = {"id": chat_id, "is_bot": False, "first_name": "Ann"}
    chat = {"id": chat_id, "type": "private", "first_name": "Ann"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            "text": text,
        },
    }


async def test_sends_failures_retries_and_webhooks_move_their_counters(
    db: peewee.Database, broker: tuple[str, str]
) -> None:
    async with TelegramEmulator(tokens=[TOKEN]) as emu:
        emu.user(TOKEN, 42, first_name="Ann")
        emu.user(TOKEN, 43, first_name="Bob", blocked=True)
        settings = _settings(broker, emu.base_url)
        sync_bots([("tg", "telegram"), ("wa", "whatsapp"), ("mail", "email")])
        async with (
            serving(settings, channels=True) as (url, _),
            aiohttp.ClientSession() as http,
        ):
            hook = f"{url}/webhooks/telegram/tg"

            async def post(url: str, update: dict[str, Any], secret: str) -> int:
                headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
                async with http.post(url, json=update, headers=headers) as r:
                    return r.status

            # Webhooks: one accepted update (an inbound text), a wrong secret, an unknown bot,
            # and the first update again (Telegram redelivers: a 200, no new inbound message).
            assert await post(hook, _update(1, 42, "hello"), SECRET) == 200
            assert await post(hook, _update(2, 42, "x"), "wrong") == 401
            assert await post(f"{url}/webhooks/telegram/nobody", {}, SECRET) == 404
            assert await post(hook, _update(1, 42, "hello"), SECRET) == 200
            # Store writes run off the event loop, as the service's own do: the service shares
            # this loop, and a write blocking it can wait on a thread that waits on the loop.
            bot = Bot.get(Bot.name == "tg")
            ann = (await asyncio.to_thread(get_or_create_client, bot, "42"))[0]
            bob = (await asyncio.to_thread(get_or_create_client, bot, "43"))[0]
            emu.fail_next("sendMessage", status=500)  # Ann's first attempt: retried
            first = await asyncio.to_thread(outbox.enqueue, ann, "your order is ready")
            await until(lambda: Message.get_by_id(first.id).status == "sent", "Ann's send", 20)
            blocked = await asyncio.to_thread(outbox.enqueue, bob, "hi Bob")
            await until(lambda: Message.get_by_id(blocked.id).status == "failed", "Bob's", 20)
            # The platform's 429: retried after its retry_after (1 s), then sent.
            emu.fail_next("sendMessage", status=429, retry_after=1)
            later = await asyncio.to_thread(outbox.enqueue, ann, "and your invoice")
            await until(lambda: Message.get_by_id(later.id).status == "sent", "the 429'd send", 20)
            # The sender counts a send just after it stores the row's status: scrape until the
            # count has caught up (a second at most), then hold every figure to it.
            for _ in range(100):
                samples = await scrape(http, url)
                if value(samples, "switchboard_messages_sent_total", bot="tg", kind="text") >= 2:
                    break
                await asyncio.sleep(0.01)
    assert value(samples, "switchboard_messages_sent_total", bot="tg", kind="text") == 2
    assert value(samples, "switchboard_send_retries_total", bot="tg", reason="TransientError") == 1
    assert value(samples, "switchboard_send_retries_total", bot="tg", reason="RetryAfter") == 1
    assert value(samples, "switchboard_bot_429_total", bot="tg") == 1
    assert value(samples, "switchboard_send_failures_total", bot="tg", reason="Blocked") == 1
    assert value(samples, "switchboard_send_failures_total", bot="tg", reason="TransientError") == 0
    assert value(samples, "switchboard_send_latency_seconds_count", bot="tg") == 5
    assert value(samples, "switchboard_send_latency_seconds_count", bot="wa") == 0
    assert value(samples, "switchboard_messages_inbound_total", bot="tg", kind="text") == 1
    assert value(samples, "switchboard_webhook_requests_total", bot="tg", code="200") == 2
    assert value(samples, "switchboard_webhook_requests_total", bot="tg", code="401") == 1
    assert value(samples, "switchboard_webhook_requests_total", bot=UNKNOWN_BOT, code="404") == 1
    assert value(samples, "switchboard_webhook_requests_total", bot="wa", code="200") == 0
    assert value(samples, "switchboard_bot_up", bot="tg") == 1  # answered since the 500
    assert value(samples, "switchboard_outbox_messages", status="sent") == 2
    assert value(samples, "switchboard_outbox_messages", status="failed") == 1


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/webhooks/telegram/tg", "tg"),
        ("/webhooks/whatsapp/wa", "wa"),
        ("/webhooks/telegram/someone-else", UNKNOWN_BOT),
        ("/webhooks/x", UNKNOWN_BOT),
        ("/metrics", None),
        ("/ops", None),
    ],
)
def test_webhook_paths_map_to_a_configured_bot_or_one_unknown_label(
    path: str, label: str | None
) -> None:
    assert webhook_bot(path, frozenset({"tg", "wa"})) == label


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_a_bot_is_down_while_its_latest_call_found_the_platform_unreachable(backend: str) -> None:
    with redis_namespace() as prefix:
        stats: Stats = (
            MemoryStats()
            if backend == "memory"
            else RedisStats(redis.Redis.from_url(REDIS_URL), prefix)
        )
        assert stats.snapshot().down == set()
        stats.record("tg", "retried", "TransientError", 0.5)
        stats.record("wa", "failed", "TransientError", 0.5)  # attempts exhausted: still down
        stats.record("wa", "retried", "RetryAfter", 0.01)  # a 429 is an answer, but no send
        assert stats.snapshot().down == {"tg", "wa"}
        stats.record("tg", "sent", "text", 0.05)
        snap = stats.snapshot()
        assert snap.down == {"wa"}
        assert snap.buckets("tg")[-1] == 0 and sum(snap.buckets("tg")) == 2
        assert snap.latency_sum_s["tg"] == pytest.approx(0.55)
        assert sum(snap.buckets("nobody")) == 0


async def test_whatsapp_webhooks_count_inbound_kinds_and_refusals(
    db: peewee.Database, broker: tuple[str, str]
) -> None:
    """Meta's signed webhooks from the Graph API emulator: a text and an image (two kinds),
    the same payload again (no new inbound), and an unsigned one (401)."""
    settings = _settings(broker)
    sync_bots([("tg", "telegram"), ("wa", "whatsapp"), ("mail", "email")])
    async with (
        GraphEmulator(access_token=ACCESS_TOKEN, app_secret=APP_SECRET) as graph,
        serving(settings, channels=True) as (url, _),
        aiohttp.ClientSession() as http,
    ):
        hook = f"{url}/webhooks/whatsapp/wa"
        body = wp.envelope(
            PHONE_ID,
            messages=[
                wp.text("15551234567", "hi"),
                wp.media("image", "15551234567", "m1", mime_type="image/jpeg"),
            ],
        )
        assert (await graph.post_webhook(hook, body))[0] == 200
        assert (await graph.post_webhook(hook, body))[0] == 200  # Meta redelivers
        assert (await graph.post_webhook(hook, body, signature=False))[0] == 401
        samples = await scrape(http, url)
    assert value(samples, "switchboard_messages_inbound_total", bot="wa", kind="text") == 1
    assert value(samples, "switchboard_messages_inbound_total", bot="wa", kind="media") == 1
    assert value(samples, "switchboard_webhook_requests_total", bot="wa", code="200") == 2
    assert value(samples, "switchboard_webhook_requests_total", bot="wa", code="401") == 1
    assert value(samples, "switchboard_messages_inbound_total", bot="tg", kind="text") == 0
