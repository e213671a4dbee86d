"""The sender against every flood model of the emulators: no 429 storm, whatever the counting.

A real engine (memory mode on SQLite, Redis mode on PostgreSQL) sends a broadcast through the
real aiogram and pywa adapters to the Bot API and Graph API emulators, which count by ``bucket``
(lenient token buckets), ``window`` (strict sliding windows) or ``escalating`` (``window``, and
repeated refusals double the retry time). The broadcast is a backlog — every row due at once,
the worst case for bursts. Afterwards: at most one refusal per 1,000 sends, nothing lost or
doubled, never more than the limit in any sliding window at the emulator. The rate reached is
printed (exact figures belong to bench/broadcast.py; the bound here is generous).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from emulators.flood import FLOOD_MODELS, max_in_window
from store import jobs
from store.models import Bot, Client
from tests.broadcast_rig import Platform, duplicates, job_rows, seed_clients, until
from tests.broadcast_rig import telegram as telegram_platform
from tests.broadcast_rig import whatsapp as whatsapp_platform
from tests.conftest import migrated_store
from tests.services import REDIS_URL, redis_namespace, temporary_postgres_database
from workers.engine import Engine

CLIENTS = 240
RATES = {"telegram": 30.0, "whatsapp": 40.0}
PLATFORMS: dict[str, Callable[..., AbstractAsyncContextManager[Platform]]] = {
    "telegram": telegram_platform,
    "whatsapp": whatsapp_platform,
}


@pytest.fixture(params=["memory+sqlite", "redis+postgres"])
def mode(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(broker URL, namespace) with a migrated store bound for the test."""
    if request.param == "memory+sqlite":
        with migrated_store(f"sqlite:///{tmp_path / 'store.db'}"):
            yield "memory://", "flood"
        return
    with temporary_postgres_database() as url, migrated_store(url), redis_namespace() as ns:
        yield REDIS_URL, ns


@asynccontextmanager
async def running(bot: dict[str, Any], broker_url: str, namespace: str) -> AsyncIterator[Engine]:
    settings = Settings.model_validate(
        {
            "broker_url": broker_url,
            "bots": [bot],
            "delivery": {"namespace": namespace, "worker_threads": 8, "dispatch_interval_s": 0.1},
        }
    )
    engine = Engine(settings)
    engine.start_dispatcher()
    engine.start_workers()
    try:
        yield engine
    finally:
        await asyncio.to_thread(engine.stop)


def broadcast(platform: Platform, text: str) -> int:
    """A broadcast job to every client of the platform's bot, all rows due at once."""
    bot = Bot.get(Bot.name == platform.bot["name"])
    return jobs.create_broadcast(
        Client.select().where(Client.bot == bot), text, steps={bot.id: 0}
    ).id


@pytest.mark.parametrize("flood", FLOOD_MODELS)
@pytest.mark.parametrize("kind", sorted(PLATFORMS))
async def test_a_broadcast_holds_the_limit_in_every_flood_model(
    kind: str, flood: str, mode: tuple[str, str]
) -> None:
    rate = RATES[kind]
    async with PLATFORMS[kind](CLIENTS, rate, flood) as platform:
        seed_clients(platform.bot["name"], kind, platform.messenger_ids)
        async with running(platform.bot, *mode):
            job_id = broadcast(platform, "Sale today")
            await until(lambda: jobs.progress(job_id).remaining == 0, "the broadcast", 90)
        delivered, accepted = platform.delivered(), platform.accepted_times()
        refusals = platform.refusals()
    assert job_rows(job_id) == {"sent": CLIENTS}
    assert sorted(delivered) == sorted(platform.recipients)  # none lost
    assert duplicates(delivered) == 0
    assert sum(refusals.values()) <= CLIENTS / 1000, refusals
    busiest = max_in_window(accepted, 1.0)
    assert busiest <= rate
    per_s = (len(accepted) - 1) / (max(accepted) - min(accepted))
    assert per_s >= rate * 0.5, per_s
    print(
        f"{kind} {flood} {mode[0]}: {per_s:.1f} msg/s ({per_s / rate:.0%} of {rate:g}), "
        f"{sum(refusals.values())} refused, busiest second {busiest}"
    )


@pytest.mark.parametrize(
    ("kind", "clients", "per_recipient"),
    # WhatsApp: one message per 6 s to a person (131056); Telegram: one per second per chat.
    [("whatsapp", 60, "131056"), ("telegram", 10, "429")],
)
async def test_two_broadcasts_to_the_same_people_draw_no_per_recipient_refusal(
    kind: str, clients: int, per_recipient: str, mode: tuple[str, str]
) -> None:
    async with PLATFORMS[kind](clients, RATES[kind], "window") as platform:
        seed_clients(platform.bot["name"], kind, platform.messenger_ids)
        async with running(platform.bot, *mode):
            first = broadcast(platform, "Sale today")
            await until(lambda: len(platform.delivered()) >= clients // 2, "half the first", 30)
            second = broadcast(platform, "Sale today: last hours")
            started = time.monotonic()
            await until(
                lambda: jobs.progress(first).remaining == jobs.progress(second).remaining == 0,
                "both broadcasts",
                60,
            )
            took = time.monotonic() - started
        delivered, refusals = platform.delivered(), platform.refusals()
    assert sorted(delivered) == sorted(platform.recipients * 2)
    assert refusals[per_recipient] == 0 and sum(refusals.values()) == 0, refusals
    print(f"{kind} {mode[0]}: second broadcast done {took:.1f} s after it started, {refusals}")


async def test_a_bot_configured_above_what_the_platform_grants_learns_the_platforms_rate(
    mode: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """The bot is configured for 30/s, the platform grants 20/s and escalates its retry-after:
    a few 429s cut the learned rate below 20/s, the broadcast finishes without a storm, the
    escalation is logged at WARNING with the bot's name, and the limiter shows what it learned."""
    async with telegram_platform(CLIENTS, 20.0, "escalating") as platform:
        platform.bot["messages_per_second"] = 30.0
        seed_clients(platform.bot["name"], "telegram", platform.messenger_ids)
        async with running(platform.bot, *mode) as engine:
            job_id = broadcast(platform, "Sale today")
            await until(lambda: jobs.progress(job_id).remaining == 0, "the broadcast", 120)
            learned = engine.limiter.bot_rate("bot:tg")
        delivered, refusals = platform.delivered(), platform.refusals()
    assert sorted(delivered) == sorted(platform.recipients)  # none lost, none doubled
    # Refused sends are retried, never lost; the learned rate keeps them to a few floods.
    assert 1 <= refusals["429"] <= CLIENTS // 10, refusals
    assert learned.refusals == refusals["429"]
    assert learned.factor * 30 < 25 and learned.last_429_ago_s is not None
    escalations = [r for r in caplog.records if "escalates its retry_after" in r.getMessage()]
    assert escalations and all("bot tg:" in r.getMessage() for r in escalations)
    assert all(r.levelname == "WARNING" for r in escalations)
    print(
        f"telegram 30/s configured, 20/s granted, {mode[0]}: {refusals['429']} refused, "
        f"learned {learned.factor * 30:.1f}/s, retry-afters {learned.recent_retry_after_s}"
    )
