"""Reliability drills (item 8) on the real Redis and PostgreSQL, through real worker processes.

A broadcast runs from ``switchboard worker`` (2 processes x 4 threads) to the Graph API
emulator. Mid-way, one drill SIGKILLs a worker process, the other empties the broker's Redis
database (``FLUSHDB`` of a database number this test claimed for itself: never other people's
data). Afterwards every message has reached the platform, none is lost, and the duplicates
(recipients served twice) are counted: never more than the messages in flight at the blow.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bots.emulators.whatsapp import GraphEmulator
from store import jobs
from store.db import database_proxy, open_database
from store.migrate import migrate
from store.models import Message
from tests.broadcast_rig import (
    WorkerFleet,
    duplicates,
    in_flight,
    job_rows,
    seed_clients,
    start_broadcast,
    until,
    write_config,
)
from tests.services import REDIS_URL, redis_namespace, require_redis
from tests.whatsapp_support import ACCESS_TOKEN, APP_SECRET, PHONE_ID, VERIFY_TOKEN

CLIENTS = 240
RATE = 40.0  # messages/s of the bot and of the emulated number: ~6 s of sending
CLAIM_KEY = "switchboard:drill:claimed"


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[str]:
    database = open_database(pg_url)
    database.connect()
    migrate(database)
    try:
        yield pg_url
    finally:
        database.close()
        database_proxy.initialize(None)


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


def _bot() -> dict[str, object]:
    return {
        "name": "wa",
        "kind": "whatsapp",
        "phone_number_id": PHONE_ID,
        "access_token": ACCESS_TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "messages_per_second": RATE,
    }


DELIVERY = {
    "worker_processes": 2,
    "worker_threads": 4,
    "dispatch_interval_s": 0.1,
    # Rows of a dead worker come back after 3 s; a send never waits longer than 0.5 s for
    # its slot, so a live send is never mistaken for a stuck one.
    "stale_after_s": 3,
    "max_wait_s": 0.5,
}


async def _drill(
    tmp_path: Path, database_url: str, broker_url: str, namespace: str, blow: str
) -> None:
    async with GraphEmulator(
        access_token=ACCESS_TOKEN, messages_per_second=RATE, seconds_per_recipient=6
    ) as graph:
        config, settings = write_config(
            tmp_path,
            database_url=database_url,
            broker_url=broker_url,
            bots=[{**_bot(), "api_base": graph.url}],
            delivery={**DELIVERY, "namespace": namespace},
        )
        recipients = [f"1555{i:07d}" for i in range(CLIENTS)]
        seed_clients("wa", "whatsapp", (f"+{r}" for r in recipients))
        fleet = WorkerFleet(config, 2, 4, tmp_path / "worker.log")
        try:
            job_id = start_broadcast(settings, "wa", "Drill: sale today")
            await until(lambda: len(graph.sent) >= CLIENTS // 3, "a third sent", 60)
            if blow == "sigkill":
                killed = fleet.kill_child(0)
            else:
                redis.Redis.from_url(broker_url).flushdb()
            flying = in_flight()
            await until(lambda: jobs.progress(job_id).remaining == 0, "the job to finish", 90)
            if blow == "sigkill":
                assert fleet.pids()[0] == killed and len(fleet.pids()) == 3, fleet.log()  # replaced
        finally:
            fleet.stop()
        delivered = [m.to for m in graph.sent]
        rows = job_rows(job_id)
        assert rows == {"sent": CLIENTS}, (rows, fleet.log())
        assert set(delivered) == set(recipients)  # none lost
        extra = duplicates(delivered)
        assert extra <= flying, (extra, flying)
        again = Message.select().where((Message.job == job_id) & (Message.attempts > 1)).count()
        print(
            f"{blow}: {CLIENTS} delivered, {extra} duplicate(s), {flying} in flight at the blow, "
            f"{again} claimed more than once, {len(graph.calls) - len(graph.sent)} refused"
        )


async def test_sigkill_of_a_worker_mid_broadcast_loses_nothing(pg_db: str, tmp_path: Path) -> None:
    with redis_namespace() as namespace:
        await _drill(tmp_path, pg_db, REDIS_URL, namespace, "sigkill")


async def test_redis_flush_mid_broadcast_loses_nothing(
    pg_db: str, spare_redis_db: str, tmp_path: Path
) -> None:
    await _drill(tmp_path, pg_db, spare_redis_db, "drill", "flush")
