"""Worker leases on SQLite and PostgreSQL: a dead worker's claimed rows come back, a live one's
never do; the heartbeat thread of ``workers.lease``."""

from __future__ import annotations

import datetime as dt
import time

import peewee

from store import leases, outbox
from store.clock import utcnow
from store.inbound import get_or_create_client
from store.models import Bot, Message, WorkerLease
from store.setup import sync_bots
from workers.lease import Lease, new_worker_id


def _rows(n: int) -> list[int]:
    sync_bots([("shop_tg", "telegram")])
    bot = Bot.get(Bot.name == "shop_tg")
    return [
        outbox.enqueue(get_or_create_client(bot, str(500 + i))[0], f"m{i}").id for i in range(n)
    ]


def test_rows_of_a_worker_whose_lease_ran_out_are_recovered(db: peewee.Database) -> None:
    dead, alive, done, unleased = _rows(4)
    t0 = utcnow()
    leases.register("host:1:dead", host="host", pid=1, now=t0)
    leases.register("host:2:alive", host="host", pid=2, now=t0)
    assert outbox.claim(dead, worker_id="host:1:dead", now=t0) is not None
    assert outbox.claim(alive, worker_id="host:2:alive", now=t0) is not None
    assert outbox.claim(done, worker_id="host:1:dead", now=t0) is not None
    assert outbox.mark_sent(done, "tg:1", now=t0)
    assert outbox.claim(unleased, now=t0) is not None  # a CLI write: no lease
    assert Message.get_by_id(dead).claimed_by == "host:1:dead"
    # Within the lease nothing moves.
    assert leases.recover(8, now=t0 + dt.timedelta(seconds=7)) == []
    # The live worker renews; the dead one does not.
    assert leases.renew("host:2:alive", now=t0 + dt.timedelta(seconds=6))
    assert leases.recover(8, now=t0 + dt.timedelta(seconds=9)) == [dead]
    row = Message.get_by_id(dead)
    assert (row.status, row.claimed_by, row.next_attempt_at) == ("queued", None, None)
    assert Message.get_by_id(alive).status == "sending"
    assert Message.get_by_id(unleased).status == "sending"  # the stale sweep's, later
    assert leases.recover(8, now=t0 + dt.timedelta(seconds=10)) == []  # once
    # Recovered, it is claimed again (a second attempt) by whoever gets it.
    again = outbox.claim(dead, worker_id="host:2:alive", now=t0 + dt.timedelta(seconds=10))
    assert again is not None and again.attempts == 2
    assert [w.worker_id for w in leases.live_workers(8, now=t0 + dt.timedelta(seconds=9))] == [
        "host:2:alive"
    ]


def test_a_forgotten_lease_counts_as_dead_and_old_leases_are_forgotten(
    db: peewee.Database,
) -> None:
    (row,) = _rows(1)
    t0 = utcnow()
    outbox.claim(row, worker_id="gone:3:x", now=t0)  # no lease row at all
    assert leases.recover(8, now=t0) == [row]
    leases.register("old:4:y", now=t0 - dt.timedelta(days=2))
    leases.register("new:5:z", now=t0)
    assert leases.forget_old(now=t0) == 1
    assert [w.worker_id for w in WorkerLease.select()] == ["new:5:z"]
    assert not leases.renew("old:4:y", now=t0)


def test_the_lease_thread_renews_and_is_held_while_it_can(db: peewee.Database) -> None:
    lease = Lease(lease_s=2.0)
    assert not lease.held()  # not before it is registered
    lease.start()
    try:
        assert lease.held()
        first = WorkerLease.get_by_id(lease.worker_id).heartbeat_at
        deadline = time.monotonic() + 10
        while WorkerLease.get_by_id(lease.worker_id).heartbeat_at == first:
            assert time.monotonic() < deadline, "the lease was never renewed"
            time.sleep(0.05)
        assert lease.held()
    finally:
        lease.stop()
    assert lease.worker_id.split(":")[1].isdigit() and new_worker_id() != lease.worker_id
    # Stopped, it is no longer renewed: after lease_s / 2 this process stops counting on it.
    time.sleep(1.1)
    assert not lease.held()


def test_a_memory_engine_resends_a_dead_workers_rows_within_its_lease(
    db: peewee.Database,
) -> None:
    from config import Settings
    from tests.platform_double import ScriptedAdapter, ScriptedPlatform
    from workers.engine import Engine

    settings = Settings.model_validate(
        {
            "bots": [{"name": "shop_tg", "kind": "telegram", "token": "1:abc"}],
            "delivery": {"dispatch_interval_s": 0.05, "lease_s": 2, "stale_after_s": 300},
        }
    )
    ids = _rows(3)
    # A previous serve process claimed them and died (its lease was last renewed just now).
    leases.register("old-serve:9:dead")
    for message_id in ids:
        assert outbox.claim(message_id, worker_id="old-serve:9:dead") is not None
    platform = ScriptedPlatform()
    engine = Engine(settings, adapter_factory=lambda b, s: ScriptedAdapter(b.name, platform))
    started = time.monotonic()
    engine.start_dispatcher()
    engine.start_workers(2)
    try:
        while Message.select().where(Message.status == "sent").count() < len(ids):
            assert time.monotonic() - started < 30, "the dead worker's rows were not resent"
            time.sleep(0.05)
        recovered_s = time.monotonic() - started
        lease = engine.lease
        assert lease is not None and lease.held()
    finally:
        engine.stop()
    # Not before the old lease ran out (2 s), long before stale_after_s (300 s).
    assert 1.5 < recovered_s < 30, recovered_s
    assert sorted(platform.delivered) == ids and set(platform.delivered.values()) == {1}
    claimers = {m.claimed_by for m in Message.select()}
    assert claimers == {lease.worker_id}
