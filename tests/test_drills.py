"""Reliability drills (item 8) on the real Redis and PostgreSQL, through real worker processes.

A broadcast runs from ``switchboard worker`` (2 processes x 4 threads) to a platform emulator
(the SIGKILL drill: Telegram's Bot API at 30/s; the Redis drill: WhatsApp's Graph API at
40/s). Mid-way, one drill SIGKILLs a worker process, the other empties the broker's Redis
database (``FLUSHDB`` of a database number this test claimed for itself: never other people's
data). Afterwards every message has reached the platform, none is lost, and the duplicates
(recipients served twice) are counted: never more than the messages in flight at the blow.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from store import jobs
from store.models import Message
from tests.broadcast_rig import (
    Platform,
    WorkerFleet,
    all_sent,
    claimed_by,
    duplicates,
    in_flight,
    job_rows,
    seed_clients,
    start_broadcast,
    telegram,
    until,
    whatsapp,
    write_config,
)
from tests.conftest import migrated_store
from tests.services import REDIS_URL, redis_namespace, require_redis
from workers.stats import RedisStats

CLIENTS = 240
RATE = 40.0  # messages/s of the WhatsApp bot and its emulated number: ~6 s of sending
CLAIM_KEY = "switchboard:drill:claimed"


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[str]:
    with migrated_store(pg_url):
        yield pg_url


@pytest.fixture
def spare_redis_db() -> Iterator[str]:
    """The URL of a Redis database number nobody uses (empty), claimed for this test."""
    require_redis()
    base = REDIS_URL.rsplit("/", 1)[0]
    token = secrets.token_hex(8)
    for number in range(15, 7, -1):
        client = redis.Redis.from_url(f"{base}/{number}")
        try:
            if client.dbsize() == 0 and client.set(CLAIM_KEY, token, nx=True, ex=600):
                try:
                    yield f"{base}/{number}"
                finally:
                    if client.get(CLAIM_KEY) in (None, token.encode()):
                        client.flushdb()
                return
        finally:
            client.close()
    pytest.fail("no empty Redis database among 8..15 for the FLUSHDB drill", pytrace=False)


DELIVERY = {
    "worker_processes": 2,
    "worker_threads": 4,
    "dispatch_interval_s": 0.1,
    # Ids the broker lost come back after 3 s; a send never waits longer than 0.5 s for its
    # slot, so a live send is never mistaken for a stuck one.
    "stale_after_s": 3,
    "max_wait_s": 0.5,
}
# The SIGKILL drill leaves the last-resort sweep far away: the dead worker's rows must come
# back through its lease (delivery.lease_s, default 8 s) and Dramatiq's own heartbeat.
SIGKILL_STALE_AFTER_S = 300


async def _drill(
    platform: Platform,
    tmp_path: Path,
    database_url: str,
    broker_url: str,
    namespace: str,
    blow: str,
    **overrides: Any,
) -> None:
    config, settings = write_config(
        tmp_path,
        database_url=database_url,
        broker_url=broker_url,
        bots=[platform.bot],
        delivery={**DELIVERY, "namespace": namespace, **overrides},
    )
    name = platform.bot["name"]
    seed_clients(name, platform.bot["kind"], platform.messenger_ids)
    fleet = WorkerFleet(config, 2, 4, tmp_path / "worker.log")
    try:
        job_id = start_broadcast(settings, name, "Drill: sale today")
        await until(lambda: len(platform.delivered()) >= CLIENTS // 3, "a third sent", 60)
        stranded: list[int] = []
        if blow == "sigkill":
            killed = fleet.kill_child(0)
            killed_at = time.monotonic()
            stranded = claimed_by(killed)
        else:
            redis.Redis.from_url(broker_url).flushdb()
        flying = in_flight()
        if blow == "sigkill":
            # The rows the dead worker held are sent again by the others long before
            # stale_after_s (the measured recovery time is printed below).
            await until(lambda: all_sent(stranded), "the dead worker's rows", 30)
            recovered_s = time.monotonic() - killed_at
        await until(lambda: jobs.progress(job_id).remaining == 0, "the job to finish", 90)
        if blow == "sigkill":
            finished_s = time.monotonic() - killed_at
            # Ids it had prefetched but not claimed come back through Dramatiq's heartbeat.
            assert finished_s < 45 < SIGKILL_STALE_AFTER_S, (finished_s, fleet.log()[-3000:])
        if blow == "sigkill":  # the supervisor replaced the killed process
            await until(lambda: len(fleet.pids()) == 3, "the killed worker replaced", 10)
            assert fleet.pids()[0] == killed, fleet.log()
    finally:
        fleet.stop()
    delivered = platform.delivered()
    rows = job_rows(job_id)
    assert rows == {"sent": CLIENTS}, (rows, fleet.log())
    missing = set(platform.recipients) - set(delivered)
    assert not missing, (sorted(missing)[:10], fleet.log())  # none lost
    extra = duplicates(delivered)
    retried: Any = (
        Message.select(Message.attempts, Message.error_code)
        .where((Message.job == job_id) & (Message.attempts > 1))
        .tuples()
    )
    assert extra <= flying, (extra, flying, sorted(retried), fleet.log()[-3000:])
    if blow == "sigkill":
        # What /metrics reads: every worker process (the killed one's successes included)
        # counted its sends in Redis, so one reader sees them all.
        stats = RedisStats(redis.Redis.from_url(broker_url), namespace).snapshot()
        assert CLIENTS - flying <= stats.counters[("sent", name, "text")] <= len(delivered)
    again = Message.select().where((Message.job == job_id) & (Message.attempts > 1)).count()
    print(
        f"{platform.name} {blow}: {CLIENTS} delivered, {extra} duplicate(s), {flying} in flight "
        f"at the blow, {again} claimed more than once, {platform.refused()} refused"
    )
    if blow == "sigkill":
        print(
            f"{platform.name} sigkill: the dead worker held {len(stranded)} row(s), all sent "
            f"{recovered_s:.1f} s after the kill; job finished {finished_s:.1f} s after it"
        )


async def test_sigkill_of_a_worker_mid_broadcast_loses_nothing(pg_db: str, tmp_path: Path) -> None:
    with redis_namespace() as namespace:
        async with telegram(CLIENTS, 30.0) as platform:
            await _drill(
                platform,
                tmp_path,
                pg_db,
                REDIS_URL,
                namespace,
                "sigkill",
                stale_after_s=SIGKILL_STALE_AFTER_S,
            )


async def test_redis_flush_mid_broadcast_loses_nothing(
    pg_db: str, spare_redis_db: str, tmp_path: Path
) -> None:
    async with whatsapp(CLIENTS, RATE) as platform:
        await _drill(platform, tmp_path, pg_db, spare_redis_db, "drill", "flush")
