"""Group commit for inbound events: one writer per process stores what concurrent webhook
requests bring, many events per transaction.

Each request awaits its own event's result, so a webhook still answers 200 only once its
update is stored (and 503 when the store is down). While one batch is being written the next
requests queue up and go together in the next transaction: under load that is one commit
for many updates instead of one each, and no writers waiting on each other's locks (SQLite
has one write lock per file). ``max_batch`` (default 256) bounds one transaction.
"""

from __future__ import annotations

import asyncio
import logging

from bots.webhook import store_call
from store.errors import StoreError
from store.inbound import InboundMessage, RecordResult, record_inbound_many

log = logging.getLogger("switchboard.ingest")


class InboundWriter:
    """The batching writer of one event loop; ``record`` is ``record_inbound`` awaited."""

    def __init__(self, max_batch: int = 256) -> None:
        self.max_batch = max_batch
        self._queue: list[tuple[InboundMessage, asyncio.Future[RecordResult]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def record(self, event: InboundMessage) -> RecordResult:
        """Store ``event`` (with whatever else is waiting); raises what ``record_inbound``
        raises (``StoreUnavailable`` wrapped as ``store_call`` does, ``NotFound``)."""
        future: asyncio.Future[RecordResult] = asyncio.get_running_loop().create_future()
        self._queue.append((event, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="inbound-writer")
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                await self._write(batch)

    async def _write(
        self, batch: list[tuple[InboundMessage, asyncio.Future[RecordResult]]]
    ) -> None:
        try:
            results = await store_call(record_inbound_many, [event for event, _ in batch])
        except Exception as exc:  # the whole transaction failed: every waiter gets the error
            if not isinstance(exc, StoreError):
                log.exception("inbound writer: a batch of %d failed", len(batch))
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

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for _, future in self._queue:
            if not future.done():
                future.cancel()
        self._queue.clear()
