"""The delivery engine of one process: broker, the send actors (one per lane), the dispatcher.

* ``memory://``: a Dramatiq ``StubBroker`` with worker threads inside ``switchboard serve``
  (``start_workers``), and a shared in-process rate limiter.
* ``redis://``: a ``RedisBroker`` under the namespace ``delivery.namespace``; ``switchboard
  worker`` runs worker processes (see ``workers.process``), all sharing the Redis limiter.

The dispatcher (a thread, every ``delivery.dispatch_interval_s``) hands due outbox rows to the
broker (``store.outbox.take_due``), each lane to its own queue, the interactive lane first
(``workers.lanes``), and re-hands rows claimed by a worker process whose lease ran out
(``store.leases.recover``, ``workers.lease``) or stuck longer than ``stale_after_s``
(``store.outbox.sweep``). The outbox is the source of truth: the broker carries only ids, and
Dramatiq's own retries are off for the send actors — the sender decides retries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware

from config import Settings
from store import deferred_indexes, leases, outbox
from store.clients import search_index
from store.db import database_proxy
from store.models import PRIORITIES, PRIORITY_BULK, PRIORITY_INTERACTIVE
from workers.broker import is_memory
from workers.lanes import ACTORS, QUEUES
from workers.lease import Lease
from workers.pulse import MemoryPulse, Pulse, RedisPulse
from workers.ratelimit import Limiter, MemoryLimiter, RedisLimiter, aimd_of
from workers.sender import AdapterFactory, Sender, default_adapter_factory
from workers.stats import MemoryStats, RedisStats, Stats

log = logging.getLogger("switchboard.delivery")

QUEUE = QUEUES[PRIORITY_BULK]
ACTOR_NAME = ACTORS[PRIORITY_BULK]

# Extra work for each dispatcher tick (job progress); ``workers.jobs`` registers its own.
TickHook = Callable[[], object]  # what a hook returns is not used


class _ThreadCleanup(Middleware):
    """Closes a worker thread's adapters, event loop and DB connection when it stops."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender

    def before_worker_thread_shutdown(self, broker: dramatiq.Broker, thread: Any) -> None:
        self.sender.close_thread()
        if not database_proxy.is_closed():
            database_proxy.close()


class Engine:
    """Broker, limiter, stats, sender and dispatcher for ``settings``."""

    def __init__(
        self,
        settings: Settings,
        *,
        adapter_factory: AdapterFactory = default_adapter_factory,
    ) -> None:
        self.settings = settings
        namespace = settings.delivery.namespace
        delivery = settings.delivery
        margin_s, inflight_s = delivery.window_margin_s, delivery.inflight_timeout_s
        self.redis: redis.Redis | None
        self.broker: dramatiq.Broker
        self.limiter: Limiter
        self.stats: Stats
        if is_memory(settings.broker_url):
            self.redis = None
            self.broker = StubBroker()
            self.limiter = MemoryLimiter(
                aimd_of(delivery), margin_s=margin_s, inflight_timeout_s=inflight_s
            )
            self.stats = MemoryStats()
            self.pulse: Pulse = MemoryPulse()
        else:
            self.redis = redis.Redis.from_url(settings.broker_url, socket_timeout=30)
            # Dramatiq gives the ids a dead worker process had prefetched (not yet claimed in
            # the outbox) back to the queue once it has not heard from it for heartbeat_timeout,
            # checked on 5 % of broker commands: about as soon as the outbox lease runs out.
            self.broker = RedisBroker(
                client=self.redis,
                namespace=namespace,
                heartbeat_timeout=int(settings.delivery.lease_s * 1000),
                maintenance_chance=50_000,
            )
            self.limiter = RedisLimiter(
                self.redis,
                namespace,
                aimd_of(delivery),
                margin_s=margin_s,
                inflight_timeout_s=inflight_s,
            )
            self.stats = RedisStats(self.redis, namespace)
            self.pulse = RedisPulse(self.redis, namespace)
        self.sender = Sender(settings, self.limiter, self.stats, adapter_factory)
        self.sender.pulse = self.pulse
        self.broker.add_middleware(_ThreadCleanup(self.sender))
        # One actor per lane, each on its lane's queue; both run the same send.
        self.actors: dict[int, dramatiq.Actor[[int], None]] = {
            lane: dramatiq.actor(
                actor_name=ACTORS[lane],
                queue_name=QUEUES[lane],
                max_retries=0,
                broker=self.broker,
            )(self._send)
            for lane in PRIORITIES
        }
        self.actor = self.actors[PRIORITY_BULK]
        self.tick_hooks: list[TickHook] = []
        self._workers: list[dramatiq.Worker] = []
        self._stop = threading.Event()
        self._dispatcher: threading.Thread | None = None
        self._forgot_at = float("-inf")  # time.monotonic() of the last leases.forget_old
        self.lease: Lease | None = None

    def _send(self, message_id: int) -> None:
        self.sender.send(message_id)

    # -- handing rows to the broker ------------------------------------------------------------
    def hand_over(self, ids: list[int], priority: int = PRIORITY_BULK) -> None:
        """Put ``ids`` on the queue of lane ``priority`` (bulk by default)."""
        actor = self.actors.get(priority, self.actor)
        for message_id in ids:
            actor.send(message_id)

    def dispatch_once(self, *, limit: int = 1000) -> int:
        """One dispatcher tick: due rows (the interactive lane first) and stuck rows to the
        broker, then the tick hooks. Returns how many rows were handed over."""
        handed = 0
        for lane in PRIORITIES:
            ids = outbox.take_due(limit=limit, priority=lane)
            self.hand_over(ids, lane)
            handed += len(ids)
        delivery = self.settings.delivery
        # A dead worker's rows (lease run out) have waited long enough: they take the
        # interactive queue, past any broadcast backlog (the sender still paces each row by
        # its own lane). The stale sweep is the last resort; its rows keep their lanes.
        orphans = leases.recover(delivery.lease_s, limit=limit)
        self.hand_over(orphans, PRIORITY_INTERACTIVE)
        stuck = outbox.sweep(delivery.stale_after_s, limit=limit)
        for lane, ids in sorted(outbox.lanes_of(stuck).items()):
            self.hand_over(ids, lane)
        if stuck:  # /ops says the broker lost them (or a worker hung) and they went again
            self.pulse.swept(len(stuck))
        handed += len(orphans) + len(stuck)
        now = time.monotonic()
        if now - self._forgot_at > 3600:
            self._forgot_at = now
            leases.forget_old()
        # Deleted clients' search entries (SQLite), a batch per tick, off the operator's path.
        search_index.purge_stale()
        # A crashed import's clients not yet in the search index (SQLite), a chunk per tick.
        search_index.catch_up_abandoned()
        # A killed import's secondary indexes (both databases), one index per tick.
        deferred_indexes.restore_abandoned()
        for hook in self.tick_hooks:
            hook()
        return handed

    def _dispatch_loop(self) -> None:
        interval = self.settings.delivery.dispatch_interval_s
        try:
            while not self._stop.is_set():
                try:
                    handed = self.dispatch_once()
                    self.pulse.tick()
                except Exception as exc:  # a store or broker outage: keep trying, nothing is lost
                    log.exception("dispatcher tick failed; retrying")
                    self.pulse.tick(error=f"{type(exc).__name__}: {exc}".splitlines()[0])
                    handed = 0
                if handed < 1000:
                    self._stop.wait(interval)
        finally:
            if not database_proxy.is_closed():
                database_proxy.close()

    def start_dispatcher(self) -> None:
        self._stop.clear()
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name="outbox-dispatcher", daemon=True
        )
        self._dispatcher.start()

    def warm_up(self) -> None:
        """Import the adapter modules of the enabled bots now, before any row is claimed.

        aiogram and pywa take seconds to import on a busy machine; done lazily, the first
        sends of a fresh worker process would sit claimed (``sending``) meanwhile, and a sweep
        with a short ``stale_after_s`` would hand them to another worker.
        """
        from bots.registry import adapter_class

        for kind in sorted({bot.kind for bot in self.settings.bots if bot.enabled}):
            try:
                adapter_class(kind)
            except Exception:  # the send reports it on the message, where operators see it
                log.exception("cannot import the %s adapter", kind)

    # -- worker threads (memory mode inside serve; each worker process in redis mode) ----------
    def start_workers(self, threads: int | None = None) -> None:
        threads = threads or self.settings.delivery.worker_threads
        # The lease exists before the first claim: its rows are never taken for a dead one's.
        self.lease = Lease(self.settings.delivery.lease_s, threads=threads)
        self.lease.start()
        self.sender.lease = self.lease
        # Each lane its own threads: a reply never waits for a broadcast's sender to be free.
        pools = {
            QUEUES[PRIORITY_BULK]: threads,
            QUEUES[PRIORITY_INTERACTIVE]: self.settings.delivery.interactive_threads,
        }
        for queue, count in pools.items():
            worker = dramatiq.Worker(
                self.broker, queues={queue}, worker_threads=count, worker_timeout=100
            )
            # Dramatiq prefetches two messages per thread by default. The dispatcher hands a
            # broadcast over at its sending pace, a tick's worth at a time: one process
            # grabbing all of them would hold them while the others idle (and while it is
            # descheduled). One per thread spreads each tick over every worker process.
            worker.queue_prefetch = count
            worker.start()
            self._workers.append(worker)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the dispatcher and the workers (finishing the sends in progress)."""
        self._stop.set()
        if self._dispatcher is not None:
            self._dispatcher.join(timeout_s)
            self._dispatcher = None
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop(timeout=int(timeout_s * 1000))
        if self.lease is not None:
            self.lease.stop()
            self.lease = None
        self.sender.close()
        self.broker.close()
