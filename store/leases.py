"""Worker leases: a sending process's claimed rows come back soon after it dies.

Each process that sends outbox rows has a ``worker_id`` and a ``WorkerLease`` row whose
``heartbeat_at`` it renews every few seconds (``workers.lease``); ``store.outbox.claim`` writes
that id into ``Message.claimed_by``. A ``sending`` row whose claimer has not renewed its lease
for ``lease_s`` seconds (the process was SIGKILLed, its machine died) is put back to ``queued``
by ``recover`` — seconds after the death instead of the ``stale_after_s`` of ``sweep``, which
stays the last resort for rows claimed without a lease (``switchboard ... write``).

Timestamps are naive UTC from each process's clock: machines that send must agree on the time
to well under ``lease_s`` (NTP).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import peewee

from store.clock import utcnow
from store.db import database_proxy, write_transaction
from store.models import Message, WorkerLease
from store.outbox import MESSAGE_ID, locked_ids, settle_dead_once

WORKER_ID: Any = WorkerLease.worker_id
# A lease not renewed for this long is forgotten (its rows were recovered long before).
FORGET_AFTER = dt.timedelta(days=1)


def register(
    worker_id: str,
    *,
    host: str = "",
    pid: int = 0,
    threads: int = 0,
    now: dt.datetime | None = None,
) -> None:
    """Start (or restart) the lease ``worker_id`` of a process with ``threads`` sending
    threads, renewed now."""
    now = now or utcnow()
    with database_proxy.atomic():
        renewed = (
            WorkerLease.update(heartbeat_at=now).where(WorkerLease.worker_id == worker_id).execute()
        )
        if not renewed:
            WorkerLease.create(
                worker_id=worker_id,
                host=host[:255],
                pid=pid,
                threads=threads,
                started_at=now,
                heartbeat_at=now,
            )


def renew(worker_id: str, *, now: dt.datetime | None = None) -> bool:
    """Renew the lease ``worker_id``; False when it is not there (forgotten: ``register``)."""
    now = now or utcnow()
    return bool(
        WorkerLease.update(heartbeat_at=now).where(WorkerLease.worker_id == worker_id).execute()
    )


def _orphans(lease_s: float, now: dt.datetime) -> Any:
    """``sending`` rows whose claimer's lease is older than ``lease_s`` seconds or gone."""
    alive = WorkerLease.select(WORKER_ID).where(
        WorkerLease.heartbeat_at >= now - dt.timedelta(seconds=lease_s)
    )
    return (
        (Message.status == "sending")
        & Message.claimed_by.is_null(False)
        & (Message.claimed_by.not_in(alive))
    )


def recover(lease_s: float, *, limit: int = 1000, now: dt.datetime | None = None) -> list[int]:
    """Put the rows of dead workers (no renewal for ``lease_s`` seconds) back to ``queued``,
    due at once, and return their ids (at most ``limit``) to be handed to the broker again.

    A row whose platform call had already succeeded when its worker died is sent twice: the
    outbox cannot know. Those are at most the dead worker's sends in flight at its death.
    """
    now = now or utcnow()
    orphans = _orphans(lease_s, now)
    # Read first: nearly every tick finds nothing and then takes no write lock.
    if not Message.select(MESSAGE_ID).where(orphans).limit(1).exists():
        return []
    with write_transaction():
        ids = locked_ids(
            Message.select(MESSAGE_ID).where(orphans).order_by(MESSAGE_ID).limit(limit)
        )
        ids = settle_dead_once(ids, now, "its worker's lease ran out mid-send")
        if ids:
            Message.update(
                status="queued", next_attempt_at=None, updated_at=now, claimed_by=None
            ).where(MESSAGE_ID.in_(ids) & (Message.status == "sending")).execute()
    return ids


def forget_old(*, now: dt.datetime | None = None) -> int:
    """Delete leases not renewed for ``FORGET_AFTER`` (a day); returns how many."""
    cutoff = (now or utcnow()) - FORGET_AFTER
    return int(WorkerLease.delete().where(WorkerLease.heartbeat_at < cutoff).execute())


def live_workers(lease_s: float, *, now: dt.datetime | None = None) -> list[WorkerLease]:
    """The leases renewed within ``lease_s`` seconds, oldest first (for ``/ops``)."""
    cutoff = (now or utcnow()) - dt.timedelta(seconds=lease_s)
    return list(
        WorkerLease.select()
        .where(WorkerLease.heartbeat_at >= cutoff)
        .order_by(WorkerLease.started_at)
    )


def sending_by_worker() -> dict[str, int]:
    """``sending`` rows per claimer (``Message.claimed_by``; rows claimed without a lease
    are left out)."""
    rows: Any = (
        Message.select(Message.claimed_by, peewee.fn.COUNT(MESSAGE_ID))
        .where((Message.status == "sending") & Message.claimed_by.is_null(False))
        .group_by(Message.claimed_by)
        .tuples()
    )
    return {worker_id: n for worker_id, n in rows}
