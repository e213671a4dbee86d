"""Per-bot history for ``/ops``' charts: sent / failed / retried / inbound per time bucket.

Two scales (``SCALES``): per minute for the last 24 h and per 10 s for the last 15 min. The
counts are added where ``workers.stats`` counts everything else (``Stats.record``: the senders,
and ``serve``'s inbound hook ``store.counters.on_inbound``), so the charts and ``/metrics`` can
never disagree about what happened.

Stored cheaply and bounded:

* ``redis://``: one hash per bot, scale and *page* (a run of ``page_slots`` buckets: an hour of
  minutes, 15 min of 10-second buckets) under ``<namespace>:stats:hist:<step>:<bot>:<page>``,
  fields ``<bucket start>|<outcome>``, HINCRBY in the pipeline the counters already use, and a
  TTL of the scale's span plus one page: at most 26 hashes per bot for the minutes, 3 for the
  10-second buckets. Reading a bot's scale is one HGETALL per page.
* ``memory://``: a dict per bot and scale, pruned past the span on every write.

Times are Unix seconds (wall clock, as every process on the machine agrees on it).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

import redis

# What a chart shows; ``Stats.record``'s other outcomes (deferred, webhook) are not history.
OUTCOMES: Final = ("sent", "failed", "retried", "inbound")


@dataclass(frozen=True, slots=True)
class Scale:
    """Buckets of ``step_s`` seconds covering the last ``span_s``; ``page_slots`` buckets per
    Redis hash."""

    name: str
    step_s: int
    span_s: int
    page_slots: int

    @property
    def slots(self) -> int:
        return self.span_s // self.step_s

    def bucket(self, at_s: float) -> int:
        """The start (Unix seconds) of the bucket holding ``at_s``."""
        return int(at_s) // self.step_s * self.step_s

    def page(self, bucket: int) -> int:
        return bucket // (self.step_s * self.page_slots)


TEN_SECONDS: Final = Scale("last 15 min, per 10 s", 10, 15 * 60, 90)
MINUTES: Final = Scale("last 24 h, per minute", 60, 24 * 3600, 60)
SCALES: Final = (TEN_SECONDS, MINUTES)


@dataclass
class Series:
    """One bot on one scale: ``counts[outcome][i]`` in the bucket starting at
    ``first + i * scale.step_s``; the last bucket is the one ``now`` is in (still filling)."""

    scale: Scale
    first: int
    counts: dict[str, list[int]] = field(default_factory=dict)

    def starts(self) -> list[int]:
        return [self.first + i * self.scale.step_s for i in range(self.scale.slots)]

    def total(self, outcome: str) -> int:
        return sum(self.counts.get(outcome, ()))


def _empty(scale: Scale, now_s: float) -> Series:
    first = scale.bucket(now_s) - (scale.slots - 1) * scale.step_s
    return Series(scale, first, {o: [0] * scale.slots for o in OUTCOMES})


def _put(series: Series, bucket: int, outcome: str, n: int) -> None:
    i = (bucket - series.first) // series.scale.step_s
    if outcome in series.counts and 0 <= i < series.scale.slots:
        series.counts[outcome][i] += n


class MemoryHistory:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (scale step, bot) -> bucket start -> outcome -> n
        self._buckets: dict[tuple[int, str], dict[int, dict[str, int]]] = defaultdict(dict)

    def add(self, bot: str, outcome: str, n: int, now_s: float) -> None:
        if outcome not in OUTCOMES:
            return
        with self._lock:
            for scale in SCALES:
                buckets = self._buckets[(scale.step_s, bot)]
                bucket = scale.bucket(now_s)
                counts = buckets.setdefault(bucket, {})
                counts[outcome] = counts.get(outcome, 0) + n
                if len(buckets) > scale.slots:
                    oldest = bucket - scale.span_s
                    for old in [b for b in buckets if b <= oldest]:
                        del buckets[old]

    def series(self, bots: list[str], scale: Scale, now_s: float) -> dict[str, Series]:
        found = {}
        with self._lock:
            for bot in bots:
                series = _empty(scale, now_s)
                for bucket, counts in self._buckets.get((scale.step_s, bot), {}).items():
                    for outcome, n in counts.items():
                        _put(series, bucket, outcome, n)
                found[bot] = series
        return found


class RedisHistory:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = f"{prefix}:hist"

    def _key(self, scale: Scale, bot: str, page: int) -> str:
        return f"{self.prefix}:{scale.step_s}:{bot}:{page}"

    def add_to(self, pipe: Any, bot: str, outcome: str, n: int, now_s: float) -> None:
        """Queue the increments on ``pipe`` (the caller's pipeline executes them)."""
        if outcome not in OUTCOMES:
            return
        for scale in SCALES:
            bucket = scale.bucket(now_s)
            key = self._key(scale, bot, scale.page(bucket))
            pipe.hincrby(key, f"{bucket}|{outcome}", n)
            pipe.expire(key, scale.span_s + scale.step_s * scale.page_slots)

    def add(self, bot: str, outcome: str, n: int, now_s: float) -> None:
        pipe = self.client.pipeline(transaction=False)
        self.add_to(pipe, bot, outcome, n, now_s)
        pipe.execute()

    def series(self, bots: list[str], scale: Scale, now_s: float) -> dict[str, Series]:
        found = {bot: _empty(scale, now_s) for bot in bots}
        first = next(iter(found.values())).first if found else 0
        pages = range(scale.page(first), scale.page(scale.bucket(now_s)) + 1)
        pipe = self.client.pipeline(transaction=False)
        for bot in bots:
            for page in pages:
                pipe.hgetall(self._key(scale, bot, page))
        replies = iter(pipe.execute())
        for bot in bots:
            for _ in pages:
                for raw_field, raw_n in next(replies).items():
                    bucket, _, outcome = raw_field.decode().partition("|")
                    if bucket.isdigit():
                        _put(found[bot], int(bucket), outcome, int(raw_n))
        return found


History = MemoryHistory | RedisHistory
