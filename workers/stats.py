"""Delivery counters every process adds to and ``/metrics`` and ``/ops`` read.

In ``redis://`` mode the numbers live in Redis (hashes under ``<namespace>:stats``), so the
web process shows what all worker processes did; in ``memory://`` mode, in process memory.
Outcomes: ``sent``, ``failed``, ``retried``, ``deferred``; ``reason`` is the error class or
``ok``. Latency is the time of one platform call (seconds).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

import redis

LATENCY_BUCKETS_S: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RATE_WINDOW_S = 10


@dataclass
class Snapshot:
    """``counters[(outcome, bot, reason)]``; ``latency_buckets[i]`` counts calls that took at
    most ``LATENCY_BUCKETS_S[i]`` (the last entry: longer), not cumulative."""

    counters: dict[tuple[str, str, str], int] = field(default_factory=dict)
    latency_buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_S) + 1))
    latency_sum_s: float = 0.0


class Stats(Protocol):
    def record(self, bot: str, outcome: str, reason: str, latency_s: float | None = None) -> None:
        """Count one outcome of one send of ``bot``."""

    def snapshot(self) -> Snapshot: ...

    def rate(self, bot: str) -> float:
        """Messages sent per second by ``bot`` over the last ``RATE_WINDOW_S`` seconds."""


def _bucket(latency_s: float) -> int:
    return bisect.bisect_left(LATENCY_BUCKETS_S, latency_s)


class MemoryStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snap = Snapshot()
        self._per_second: dict[str, dict[int, int]] = defaultdict(dict)

    def record(self, bot: str, outcome: str, reason: str, latency_s: float | None = None) -> None:
        with self._lock:
            key = (outcome, bot, reason)
            self._snap.counters[key] = self._snap.counters.get(key, 0) + 1
            if latency_s is not None:
                self._snap.latency_buckets[_bucket(latency_s)] += 1
                self._snap.latency_sum_s += latency_s
            if outcome == "sent":
                now = int(time.time())
                seconds = self._per_second[bot]
                seconds[now] = seconds.get(now, 0) + 1
                for old in [s for s in seconds if s < now - RATE_WINDOW_S - 1]:
                    del seconds[old]

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                dict(self._snap.counters),
                list(self._snap.latency_buckets),
                self._snap.latency_sum_s,
            )

    def rate(self, bot: str) -> float:
        now = int(time.time())
        with self._lock:
            seconds = self._per_second.get(bot, {})
            return sum(n for s, n in seconds.items() if now - RATE_WINDOW_S <= s < now) / (
                RATE_WINDOW_S
            )


class RedisStats:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = f"{prefix}:stats"

    def record(self, bot: str, outcome: str, reason: str, latency_s: float | None = None) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.hincrby(f"{self.prefix}:counters", f"{outcome}|{bot}|{reason}", 1)
        if latency_s is not None:
            pipe.hincrby(f"{self.prefix}:latency", str(_bucket(latency_s)), 1)
            pipe.hincrbyfloat(f"{self.prefix}:latency", "sum", latency_s)
        if outcome == "sent":
            key = f"{self.prefix}:rate:{bot}:{int(time.time())}"
            pipe.incr(key)
            pipe.expire(key, RATE_WINDOW_S * 3)
        pipe.execute()

    def snapshot(self) -> Snapshot:
        snap = Snapshot()
        counters: dict[bytes, bytes] = self.client.hgetall(f"{self.prefix}:counters")  # type: ignore[assignment]
        for raw_key, raw_n in counters.items():
            outcome, bot, reason = raw_key.decode().split("|", 2)
            snap.counters[(outcome, bot, reason)] = int(raw_n)
        latency: dict[bytes, bytes] = self.client.hgetall(f"{self.prefix}:latency")  # type: ignore[assignment]
        for raw_key, raw_n in latency.items():
            name = raw_key.decode()
            if name == "sum":
                snap.latency_sum_s = float(raw_n)
            else:
                snap.latency_buckets[int(name)] = int(raw_n)
        return snap

    def rate(self, bot: str) -> float:
        now = int(time.time())
        keys = [f"{self.prefix}:rate:{bot}:{s}" for s in range(now - RATE_WINDOW_S, now)]
        values: list[bytes | None] = self.client.mget(keys)  # type: ignore[assignment]
        return sum(int(v) for v in values if v) / RATE_WINDOW_S
