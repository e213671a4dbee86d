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
import contextlib
import logging
import os
import threading
import zlib
from collections import deque
from collections.abc import Sequence

from bots.webhook import run_detached
from store.db import database_proxy
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


# While requests keep arriving (the queue grew since the last look), a batch waits one more
# loop iteration, for at most this long since its first event: under load the next requests
# are already in the socket buffers, and a batch of 1 followed by one of 39 cost two
# transactions (~0.7 ms of CPU each, docs/benchmarks.md) where one would do.
LINGER_S = 0.002


class _Lane:
    """A queue of waiting events and one long-lived writer thread that stores them a batch
    at a time; the results come back by ``call_soon_threadsafe``.

    The thread is woken by a byte written to a pipe, not by a lock or a queue: waking a
    thread is where a loaded machine's scheduler hands the CPU to the woken thread, and
    ``os.write`` does that without holding the GIL, while a lock released by
    ``SimpleQueue.put`` or ``ThreadPoolExecutor.submit`` (``asyncio.to_thread``) does it
    with the GIL held: the event loop then sat descheduled holding the GIL that the writer
    needed (``submit`` was the top entry of serve's profile, docs/benchmarks.md).
    """

    def __init__(self, max_batch: int) -> None:
        self.max_batch = max_batch
        self.queue: list[Waiting] = []
        self.loop = asyncio.get_running_loop()
        self.thread: threading.Thread | None = None
        self.pending: deque[list[Waiting] | None] = deque()  # handed over, for the thread
        self.wake_fd = -1  # the write end of the thread's pipe
        self.writing = False  # a batch is with the thread
        self.looking = False  # a look at the queue is scheduled
        self.seen = 0  # the queue's length at the last look
        self.first_at = 0.0  # loop time of the first look at this batch

    def submit(self, item: Waiting) -> None:
        self.queue.append(item)
        if not self.writing and not self.looking:
            self._look_soon()

    def _look_soon(self) -> None:
        self.looking = True
        self.seen = 0
        self.first_at = self.loop.time()
        self.loop.call_soon(self._look)

    def _look(self) -> None:
        self.looking = False
        if self.writing or not self.queue:
            return
        waiting = len(self.queue)
        if self.seen < waiting < self.max_batch and self.loop.time() - self.first_at < LINGER_S:
            self.looking = True
            self.seen = waiting
            self.loop.call_soon(self._look)
            return
        batch = self.queue[: self.max_batch]
        del self.queue[: self.max_batch]
        self.writing = True
        self._hand_over(batch)

    def _hand_over(self, batch: list[Waiting] | None) -> None:
        if self.thread is None:
            if batch is None:
                return
            self.pending = deque()
            read_fd, self.wake_fd = os.pipe()
            self.thread = threading.Thread(
                target=self._work,
                args=(self.pending, read_fd, self.wake_fd),
                name="inbound-writer",
                daemon=True,
            )
            self.thread.start()
        self.pending.append(batch)
        os.write(self.wake_fd, b"\0")
        if batch is None:
            self.thread = None

    def _work(self, pending: deque[list[Waiting] | None], read_fd: int, write_fd: int) -> None:
        """The writer thread: store each batch handed over until ``None`` comes."""
        try:
            while True:
                os.read(read_fd, 64)
                while pending:
                    batch = pending.popleft()
                    if batch is None:
                        return
                    self._write(batch)
        finally:
            os.close(read_fd)
            os.close(write_fd)
            if not database_proxy.is_closed():  # this thread's connection
                database_proxy.close()

    def _write(self, batch: list[Waiting]) -> None:
        outcome: list[RecordResult | StoreError] | Exception
        try:
            outcome = run_detached(record_isolated, [event for event, _ in batch])
        except Exception as exc:  # not a per-item outcome: everyone's
            outcome = exc
        with contextlib.suppress(RuntimeError):  # a closed event loop: nobody waits any more
            self.loop.call_soon_threadsafe(self._written, batch, outcome)

    def _written(
        self, batch: list[Waiting], outcome: list[RecordResult | StoreError] | Exception
    ) -> None:
        self.writing = False
        _settle(batch, outcome)
        if self.queue and not self.looking:
            self._look_soon()

    async def close(self) -> None:
        self._hand_over(None)
        for _, future in self.queue:
            if not future.done():
                future.cancel()
        self.queue.clear()


def _settle(batch: list[Waiting], outcome: list[RecordResult | StoreError] | Exception) -> None:
    """Give each waiting request its result (or everyone the batch's failure)."""
    if isinstance(outcome, Exception):
        if not isinstance(outcome, StoreError):
            log.error("inbound writer: a batch of %d failed: %s", len(batch), first_line(outcome))
        for _, future in batch:
            if not future.done():
                future.set_exception(outcome)
        return
    for (_, future), result in zip(batch, outcome, strict=True):
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
