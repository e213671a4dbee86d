"""Delivery and ingest counters every process adds to and ``/metrics`` and ``/ops`` read.

In ``redis://`` mode the numbers live in Redis (hashes under ``<namespace>:stats``), so the
web process shows what all worker processes did; in ``memory://`` mode, in process memory.

Outcomes and what their ``reason`` is (closed sets, so ``/metrics`` shows every series at 0
before the first event):

* ``sent``: the message kind, ``SENT_KINDS``;
* ``failed``: ``FAILURE_REASONS`` (the error class, or ``no_bot``);
* ``retried``: ``RETRY_REASONS``;
* ``deferred``: ``DEFER_REASONS`` (why the sender put the row back before calling);
* ``inbound``: ``store.counters.INBOUND_KINDS`` (counted by ``serve``);
* ``webhook``: the HTTP status code answered (``WEBHOOK_CODES`` exist from the start).

Every ``record`` of ``sent``, ``failed``, ``retried`` or ``inbound`` also goes into the bot's
time buckets (``workers.history``), which ``/ops`` draws.

Latency is the time of one platform call (seconds), per bot. A bot is *down* while its latest
platform call ended in a transient error (unreachable, 5xx, timeout) and not since in a send.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Final, Protocol

import redis

from workers.history import History, MemoryHistory, RedisHistory

LATENCY_BUCKETS_S: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RATE_WINDOW_S = 10

SENT_KINDS: Final = ("text", "media", "template")
FAILURE_REASONS: Final = ("Blocked", "RecipientGone", "PermanentError", "TransientError", "no_bot")
RETRY_REASONS: Final = ("RetryAfter", "TransientError")
DEFER_REASONS: Final = ("rate_limit", "window", "lease")
WEBHOOK_CODES: Final = ("200", "400", "401", "403", "404", "413", "500", "503")


@dataclass
class Snapshot:
    """``counters[(outcome, bot, reason)]``; ``latency[bot][i]`` counts calls that took at most
    ``LATENCY_BUCKETS_S[i]`` (the last entry: longer), not cumulative; ``down``: bots whose
    latest platform call found the platform unreachable."""

    counters: dict[tuple[str, str, str], int] = field(default_factory=dict)
    latency: dict[str, list[int]] = field(default_factory=dict)
    latency_sum_s: dict[str, float] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)

    def buckets(self, bot: str) -> list[int]:
        """``latency[bot]``, all zeros for a bot with no call yet."""
        return self.latency.get(bot) or [0] * (len(LATENCY_BUCKETS_S) + 1)


class Stats(Protocol):
    history: History  # the per-bot time buckets behind /ops' charts (workers.history)

    def record(
        self, bot: str, outcome: str, reason: str, latency_s: float | None = None, n: int = 1
    ) -> None:
        """Count ``n`` outcomes ``outcome`` of ``bot``."""

    def snapshot(self) -> Snapshot: ...

    def rate(self, bot: str) -> float:
        """Messages sent per second by ``bot`` over the last ``RATE_WINDOW_S`` seconds."""


def _bucket(latency_s: float) -> int:
    return bisect.bisect_left(LATENCY_BUCKETS_S, latency_s)


def _reachability(outcome: str, reason: str) -> bool | None:
    """True: the platform answered a send; False: it could not be reached; None: no news."""
    if outcome == "sent":
        return True
    if outcome in ("retried", "failed") and reason == "TransientError":
        return False
    return None


class MemoryStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snap = Snapshot()
        self._per_second: dict[str, dict[int, int]] = defaultdict(dict)
        self.history: History = MemoryHistory()

    def record(
        self, bot: str, outcome: str, reason: str, latency_s: float | None = None, n: int = 1
    ) -> None:
        self.history.add(bot, outcome, n, time.time())
        with self._lock:
            key = (outcome, bot, reason)
            self._snap.counters[key] = self._snap.counters.get(key, 0) + n
            if latency_s is not None:
                self._snap.latency.setdefault(bot, self._snap.buckets(bot))[_bucket(latency_s)] += 1
                self._snap.latency_sum_s[bot] = self._snap.latency_sum_s.get(bot, 0.0) + latency_s
            up = _reachability(outcome, reason)
            if up is not None:
                (self._snap.down.discard if up else self._snap.down.add)(bot)
            if outcome == "sent":
                now = int(time.time())
                seconds = self._per_second[bot]
                seconds[now] = seconds.get(now, 0) + n
                for old in [s for s in seconds if s < now - RATE_WINDOW_S - 1]:
                    del seconds[old]

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                dict(self._snap.counters),
                {bot: list(b) for bot, b in self._snap.latency.items()},
                dict(self._snap.latency_sum_s),
                set(self._snap.down),
            )

    def rate(self, bot: str) -> float:
        now = int(time.time())
        with self._lock:
            seconds = self._per_second.get(bot, {})
            return sum(n for s, n in seconds.items() if now - RATE_WINDOW_S <= s < now) / (
                RATE_WINDOW_S
            )


class RedisStats:
    """Hashes ``<prefix>:stats:counters`` (``outcome|bot|reason``), ``...:latency``
    (``bot|bucket`` and ``bot|sum``) and ``...:up`` (``bot`` -> 1 or 0)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = f"{prefix}:stats"
        self.redis_history = RedisHistory(client, self.prefix)
        self.history: History = self.redis_history

    def record(
        self, bot: str, outcome: str, reason: str, latency_s: float | None = None, n: int = 1
    ) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.hincrby(f"{self.prefix}:counters", f"{outcome}|{bot}|{reason}", n)
        if latency_s is not None:
            pipe.hincrby(f"{self.prefix}:latency", f"{bot}|{_bucket(latency_s)}", 1)
            pipe.hincrbyfloat(f"{self.prefix}:latency", f"{bot}|sum", latency_s)
        up = _reachability(outcome, reason)
        if up is not None:
            pipe.hset(f"{self.prefix}:up", bot, int(up))
        self.redis_history.add_to(pipe, bot, outcome, n, time.time())
        if outcome == "sent":
            key = f"{self.prefix}:rate:{bot}:{int(time.time())}"
            pipe.incrby(key, n)
            pipe.expire(key, RATE_WINDOW_S * 3)
        pipe.execute()

    def snapshot(self) -> Snapshot:
        snap = Snapshot()
        pipe = self.client.pipeline(transaction=False)
        for name in ("counters", "latency", "up"):
            pipe.hgetall(f"{self.prefix}:{name}")
        counters, latency, up = pipe.execute()
        for raw_key, raw_n in counters.items():
            outcome, bot, reason = raw_key.decode().split("|", 2)
            snap.counters[(outcome, bot, reason)] = int(raw_n)
        for raw_key, raw_n in latency.items():
            bot, _, name = raw_key.decode().rpartition("|")
            if name == "sum":
                snap.latency_sum_s[bot] = float(raw_n)
            elif bot and name.isdigit() and int(name) <= len(LATENCY_BUCKETS_S):
                snap.latency.setdefault(bot, snap.buckets(bot))[int(name)] = int(raw_n)
        snap.down = {raw.decode() for raw, value in up.items() if value == b"0"}
        return snap

    def rate(self, bot: str) -> float:
        now = int(time.time())
        keys = [f"{self.prefix}:rate:{bot}:{s}" for s in range(now - RATE_WINDOW_S, now)]
        values: list[bytes | None] = self.client.mget(keys)  # type: ignore[assignment]
        return sum(int(v) for v in values if v) / RATE_WINDOW_S
