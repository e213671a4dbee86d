"""Group commit for inbound events: per event loop one writer (or a few lanes) stores what
concurrent webhook requests bring, many events per transaction.

Each request awaits its own event's result, so a webhook still answers 200 only once its
update is stored (and 503 when the store is down). While a lane writes one batch the next
requests queue up and go together in its next transaction: under load that is one commit
for many updates instead of one each, and no writers waiting on each other's locks.

Lanes: one by default. SQLite has one write lock per file; on PostgreSQL several lanes
overlap their commits but make smaller batches, and on the 2-core benchmark machine one lane
stored more per second at a lower p99 (``docs/benchmarks.md``). With more lanes an event's
lane is chosen by its client (bot, messenger id), so two transactions never touch the same
client at once (no deadlocks) and one client's messages are stored in the order they came.
``max_batch`` (default 256) bounds one transaction.

One event's bad data never fails its neighbours: a batch the database refuses is halved and
retried down to the events it refuses (``record_isolated``); those get ``StoreRejected``
(the Telegram ingest keeps that update as an unusable item), every other event is stored.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Sequence

from bots.webhook import store_call
from store.errors import (
    StoreError,
    StoreRejected,
    StoreUnavailable,
    detached,
    first_line,
    is_unavailable,
    traceback_text,
)
from store.inbound import InboundMessage, RecordResult, record_inbound_many

log = logging.getLogger("switchboard.ingest")

Waiting = tuple[InboundMessage, "asyncio.Future[RecordResult]"]


class _Lane:
    def __init__(self, max_batch: int) -> None:
        self.max_batch = max_batch
        self.queue: list[Waiting] = []
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def submit(self, item: Waiting) -> None:
        self.queue.append(item)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name="inbound-writer")
        self.wake.set()

    async def _run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.queue:
                batch = self.queue[: self.max_batch]
                del self.queue[: self.max_batch]
                await _write(batch)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        for _, future in self.queue:
            if not future.done():
                future.cancel()
        self.queue.clear()


async def _write(batch: list[Waiting]) -> None:
    try:
        results = await store_call(record_isolated, [event for event, _ in batch])
    except Exception as exc:  # not a per-item outcome (the thread pool is gone): everyone
        if not isinstance(exc, StoreError):
            log.error("inbound writer: a batch of %d failed: %s", len(batch), first_line(exc))
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)
        return
    for (_, future), result in zip(batch, results, strict=True):
        if future.done():  # the request went away; its event is stored all the same
            continue
        if isinstance(result, StoreError):
            future.set_exception(result)
        else:
            future.set_result(result)


def record_isolated(events: Sequence[InboundMessage]) -> list[RecordResult | StoreError]:
    """``record_inbound_many`` that never fails an event for another event's data (blocking).

    When the database refuses the batch for its data, the batch is halved and each half
    tried again, down to the single events it refuses (``StoreRejected``, its traceback text
    in ``detail``): every other event is stored and gets its own result, in
    ``events`` order. A connection-level failure (``StoreUnavailable``) is everyone's
    outcome in the part not yet stored: trying more pieces would only wait longer. Each piece
    is its own short transaction: on SQLite one long transaction of savepoints made concurrent
    writers (other webhooks) wait longer (``bench/poison.py``). Errors are ``detached`` on
    this thread before they are returned (no cursor crosses threads).
    """
    try:
        return record_inbound_many(events)
    except StoreUnavailable as exc:
        failure: StoreError = exc
        detached(exc)
    except Exception as exc:
        if is_unavailable(exc):  # down, locked, read-only: not this batch's data
            failure = StoreUnavailable(first_line(exc))
        else:
            message = f"the store refused the data: {first_line(exc)}"
            failure = StoreRejected(message, traceback_text(exc))
        detached(exc)
    if isinstance(failure, StoreUnavailable):
        return [failure] * len(events)
    if len(events) == 1:  # the channel logs and keeps it; the traceback is for debugging
        (event,) = events
        detail = getattr(failure, "detail", "")
        log.debug("inbound writer: %s %s: %s\n%s", event.bot_name, event.dedup_key, failure, detail)
        return [failure]
    middle = len(events) // 2
    first = record_isolated(events[:middle])
    if any(isinstance(result, StoreUnavailable) for result in first):
        down = next(r for r in first if isinstance(r, StoreUnavailable))
        return first + [down] * (len(events) - middle)
    return first + record_isolated(events[middle:])


class InboundWriter:
    """The batching writer of one event loop; ``record`` is ``record_inbound`` awaited.

    ``lanes``: concurrent transactions (default 1, see above).
    """

    def __init__(self, max_batch: int = 256, lanes: int = 1) -> None:
        self.max_batch = max_batch
        self._lane_count = lanes
        self._lanes: list[_Lane] = []

    async def record(self, event: InboundMessage) -> RecordResult:
        """Store ``event`` (with whatever else is waiting in its lane); raises what
        ``record_inbound`` raises (``StoreUnavailable`` as ``store_call`` wraps it,
        ``NotFound``)."""
        if not self._lanes:
            self._lanes = [_Lane(self.max_batch) for _ in range(max(1, self._lane_count))]
        key = f"{event.bot_name}\0{event.messenger_id}".encode()
        lane = self._lanes[zlib.crc32(key) % len(self._lanes)]
        future: asyncio.Future[RecordResult] = asyncio.get_running_loop().create_future()
        lane.submit((event, future))
        return await future

    async def close(self) -> None:
        for lane in self._lanes:
            await lane.close()
