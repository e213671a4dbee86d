"""Flood models the emulators share: how a platform counts sends and how it answers the excess.

Neither Telegram nor Meta documents the algorithm behind its limits ("about 30 messages per
second", "short bursts"), so a sender must hold against the whole range of plausible ones. The
emulators pick one of three per instance (``flood=``) and can switch at run time:

* ``bucket`` (the default): a token bucket per key, refilled at ``count / window_s`` a second,
  holding at most ``burst`` (default ``count``) tokens. Lenient: after a pause a full burst
  passes at once.
* ``window``: strict sliding windows counted at the moment the emulator receives the request:
  at most ``count`` accepted sends in ANY window ``[t, t + window_s)``. A refused send counts as
  nothing; the answer is the whole seconds until the window admits again (at least 1).
* ``escalating``: ``window``, and each refusal that comes within ``escalation_window_s``
  (default 60 s) of the previous refusal for the same key doubles the retry time it answers
  (1, 2, 4, 8 ... s, capped at ``max_retry_after_s``, default 64 s; never below what the window
  itself needs). The key stays closed for the whole retry time answered: a send before it ends
  is refused again (and escalates again), as Telegram punishes repeated flooding.

Keys are any hashable the caller picks (``("bot", token)``, ``("chat", token, chat_id)``). A
send is checked against several keys at once and counted against all of them only when every
one admits it. Times are the caller's clock (seconds, monotonic), passed in as ``now``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

FLOOD_MODELS: tuple[str, ...] = ("bucket", "window", "escalating")
ESCALATION_WINDOW_S = 60.0
MAX_RETRY_AFTER_S = 64
_EPSILON = 1e-9  # absorbs float error: 30 sends then 1/30 s later is one token, not 0.999..


@dataclass(frozen=True, slots=True)
class Limit:
    """``count`` sends per ``window_s`` seconds; ``burst``: the bucket model's capacity (default
    ``count``). ``window_s <= 0`` means no limit. The window models admit ``floor(count)``
    (at least 1) per window."""

    count: float
    window_s: float
    burst: float | None = None

    @classmethod
    def per_second(cls, rate: float, burst: float | None = None) -> Limit:
        """``rate`` sends a second: ``rate`` per 1 s, or one per ``1 / rate`` s below 1/s."""
        if rate <= 0:
            return cls(1, 0.0)
        return cls(rate, 1.0, burst) if rate >= 1 else cls(1, 1.0 / rate, burst)

    @property
    def window_count(self) -> int:
        return max(1, math.floor(self.count + _EPSILON))


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # clock reading of the last refill


@dataclass(slots=True)
class _Penalty:
    at: float  # when the last refusal was answered
    retry_after: int  # what it answered, seconds
    until: float  # the key admits nothing before this


def whole_seconds(wait_s: float) -> int:
    """A wait as Telegram answers it: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait_s - _EPSILON))


def max_in_window(times: Iterable[float], window_s: float = 1.0) -> int:
    """The most sends in any window ``[t, t + window_s)``: ``times`` are receive times in
    seconds (any order). The same counting the ``window`` model admits by."""
    ordered = sorted(times)
    best = 0
    start = 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


class FloodGate:
    """The counters of one emulator under one flood model (see the module doc)."""

    def __init__(
        self,
        model: str = "bucket",
        *,
        escalation_window_s: float = ESCALATION_WINDOW_S,
        max_retry_after_s: int = MAX_RETRY_AFTER_S,
    ) -> None:
        self.escalation_window_s = escalation_window_s
        self.max_retry_after_s = max_retry_after_s
        self._buckets: dict[Hashable, _Bucket] = {}
        self._sent: dict[Hashable, deque[float]] = {}
        self._penalties: dict[Hashable, _Penalty] = {}
        self.model = check_model(model)

    def set_model(self, model: str) -> None:
        """Count by ``model`` from now on; the counts so far are forgotten."""
        self.model = check_model(model)
        self.reset()

    def reset(self) -> None:
        self._buckets.clear()
        self._sent.clear()
        self._penalties.clear()

    def admit(self, checks: Sequence[tuple[Hashable, Limit]], now: float) -> int | None:
        """None when a send at ``now`` passes every ``(key, limit)`` (and is counted against
        each), else the ``retry_after`` seconds to answer (nothing is counted)."""
        retry_after = self.check(checks, now)
        if retry_after is None:
            self.take(checks, now)
        return retry_after

    def check(self, checks: Sequence[tuple[Hashable, Limit]], now: float) -> int | None:
        """Like ``admit`` but counts nothing when the send passes; a refusal still counts as
        one for the ``escalating`` model."""
        refused = [(key, wait) for key, limit in checks if (wait := self._wait_s(key, limit, now))]
        if not refused:
            return None
        if self.model != "escalating":
            return max(whole_seconds(wait) for _key, wait in refused)
        return max(self._escalate(key, whole_seconds(wait), now) for key, wait in refused)

    def take(self, checks: Sequence[tuple[Hashable, Limit]], now: float) -> None:
        """Count one send at ``now`` against every key (after ``check`` passed it)."""
        for key, limit in checks:
            if limit.window_s <= 0:
                continue
            if self.model == "bucket":
                self._bucket(key, limit, now).tokens -= 1.0
            else:
                self._sent.setdefault(key, deque()).append(now)

    def _wait_s(self, key: Hashable, limit: Limit, now: float) -> float:
        """Seconds until ``key`` admits a send (> 0), or 0.0 when it admits one now."""
        if limit.window_s <= 0:
            return 0.0
        if self.model == "bucket":
            bucket = self._bucket(key, limit, now)
            if bucket.tokens >= 1.0 - _EPSILON:
                return 0.0
            return (1.0 - bucket.tokens) * limit.window_s / limit.count
        wait = 0.0
        sent = self._sent.get(key)
        if sent is not None:
            while sent and now - sent[0] >= limit.window_s:
                sent.popleft()
            count = limit.window_count
            if len(sent) >= count:
                # refused however float rounding comes out: the count decides, not the wait
                wait = max(sent[-count] + limit.window_s - now, _EPSILON)
        penalty = self._penalties.get(key)
        if penalty is not None and now < penalty.until:
            wait = max(wait, penalty.until - now)
        return wait

    def _bucket(self, key: Hashable, limit: Limit, now: float) -> _Bucket:
        rate = limit.count / limit.window_s
        capacity = max(limit.burst if limit.burst is not None else limit.count, 1.0)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        return bucket

    def _escalate(self, key: Hashable, base: int, now: float) -> int:
        previous = self._penalties.get(key)
        retry_after = base
        if previous is not None and now - previous.at <= self.escalation_window_s:
            retry_after = max(base, min(self.max_retry_after_s, previous.retry_after * 2))
        self._penalties[key] = _Penalty(now, retry_after, now + retry_after)
        return retry_after


def check_model(model: str) -> str:
    """``model`` if it names a flood model, else ValueError naming the choices."""
    if model not in FLOOD_MODELS:
        raise ValueError(f"unknown flood model {model!r} (choose {', '.join(FLOOD_MODELS)})")
    return model
