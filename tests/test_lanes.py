"""Delivery lanes: an operator's reply passes a broadcast that runs at the bot's limit.

A real engine (memory mode on SQLite, Redis mode on PostgreSQL) sends through the real aiogram
adapter to the Bot API emulator at its limit. The broadcast's rows are all due at once (a
backlog, as after a pause or an outage: the worst case for a reply), then an operator's reply
is queued mid-way: it must reach the platform long before the broadcast ends. Exact latency
figures belong to bench/broadcast.py; the bounds here are generous.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from store import jobs, outbox
from store.models import PRIORITY_BULK, PRIORITY_INTERACTIVE, Bot, Client
from tests.broadcast_rig import job_rows, seed_clients, telegram, until
from tests.conftest import migrated_store
from tests.services import REDIS_URL, redis_namespace, temporary_postgres_database
from workers.engine import Engine
from workers.lanes import reserve
from workers.ratelimit import Grant, Limit, MemoryLimiter

CLIENTS = 240
RATE = 30.0


@pytest.fixture(params=["memory+sqlite", "redis+postgres"])
def mode(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(broker URL, namespace) with a migrated store bound for the test."""
    if request.param == "memory+sqlite":
        with migrated_store(f"sqlite:///{tmp_path / 'store.db'}"):
            yield "memory://", "lanes"
        return
    with temporary_postgres_database() as url, migrated_store(url), redis_namespace() as ns:
        yield REDIS_URL, ns


def _settings(bot: dict[str, Any], broker_url: str, namespace: str) -> Settings:
    return Settings.model_validate(
        {
            "broker_url": broker_url,
            "bots": [bot],
            "delivery": {"namespace": namespace, "worker_threads": 8, "dispatch_interval_s": 0.1},
        }
    )


async def test_a_reply_passes_a_broadcast_backlog_at_the_limit(mode: tuple[str, str]) -> None:
    async with telegram(CLIENTS + 1, RATE) as platform:
        name = platform.bot["name"]
        seed_clients(name, "telegram", platform.messenger_ids)
        settings = _settings(platform.bot, *mode)
        bot = Bot.get(Bot.name == name)
        operator_chat = platform.messenger_ids[-1]
        audience = Client.select().where(
            (Client.bot == bot) & (Client.messenger_id != operator_chat)
        )
        # steps 0: every row is due now, the whole broadcast is handed to the broker at once.
        job = jobs.create_broadcast(audience, "Sale today", steps={bot.id: 0.0})
        engine = Engine(settings)
        engine.start_dispatcher()
        engine.start_workers()
        try:
            await until(lambda: len(platform.delivered()) >= 60, "the broadcast under way", 30)
            client = Client.get((Client.bot == bot) & (Client.messenger_id == operator_chat))
            row = outbox.enqueue(client, "Your order has shipped", author_kind="operator")
            assert row.priority == PRIORITY_INTERACTIVE
            queued_at = time.monotonic()
            await until(lambda: operator_chat in platform.delivered(), "the reply", 30)
            latency = time.monotonic() - queued_at
            before = platform.delivered().index(operator_chat)
            await until(lambda: jobs.progress(job.id).remaining == 0, "the broadcast", 60)
        finally:
            await asyncio.to_thread(engine.stop)
        delivered = platform.delivered()
        assert job_rows(job.id) == {"sent": CLIENTS}
        assert sorted(delivered) == sorted(platform.messenger_ids)  # nothing lost or doubled
        # The reply overtook the broadcast's backlog: most of it was still to go. Without
        # lanes it waited for every broadcast row queued before it (~6 s at 30/s).
        after = len(delivered) - before - 1
        assert after > CLIENTS // 2, (before, after, latency)
        assert latency < 4.0, latency
        print(f"{mode[0]}: reply after {latency:.2f} s, {after} broadcast rows sent after it")


class _Clock:
    """A fake sleep for ``reserve``: records the sleeps, lets the real limiter's time pass."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        time.sleep(seconds)


def test_bulk_reserves_only_a_short_way_ahead_and_a_reply_gets_the_next_slot() -> None:
    limiter = MemoryLimiter()
    limits = [Limit("bot:tg", 0.05)]  # 20/s
    bulk = dict(priority=PRIORITY_BULK, max_wait_s=2.0, bulk_max_wait_s=0.2)
    # Bulk fills the timeline only 0.2 s ahead (5 slots of 0.05 s): then it waits unreserved.
    grants = [reserve(limiter, limits, **bulk) for _ in range(5)]  # type: ignore[arg-type]
    assert all(g.granted for g in grants) and grants[-1].wait_s <= 0.2
    refused = limiter.acquire(limits, 0.2)
    assert not refused.granted
    # A reply reserves right behind the bulk slots, well within a second.
    reply = reserve(limiter, limits, priority=PRIORITY_INTERACTIVE, max_wait_s=2, bulk_max_wait_s=0)
    assert reply.granted and 0.2 <= reply.wait_s <= 0.3
    # The next bulk send sleeps until its slot comes within reach, then holds it.
    clock = _Clock()
    late = reserve(limiter, limits, sleep=clock, **bulk)  # type: ignore[arg-type]
    assert late.granted and late.wait_s <= 0.2 + 0.01 and clock.slept
    # Further off than max_wait_s (a platform pause): refused, the row is deferred.
    limiter.pause("bot:tg", 5)
    paused: Grant = reserve(limiter, limits, sleep=clock, **bulk)  # type: ignore[arg-type]
    assert not paused.granted and paused.wait_s > 4
