"""The limiter of one process (``memory://`` mode): worker threads share it under a lock.

The same rules as the Redis limiter (see ``workers.pacing``), on ``clock`` (default
``time.monotonic``; tests inject their own).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from workers.pacing import (
    RECENT_KEPT,
    Admission,
    Aimd,
    BotRate,
    Grant,
    Limit,
    Penalty,
    min_gap_s,
    window_n,
)

FORGET_AFTER_KEYS = 100_000  # forget chats whose slots have long passed, beyond this many


@dataclass
class _Learned:
    factor: float = 1.0
    cut_at: float | None = None
    last_429_at: float | None = None
    refusals: int = 0
    recent: list[float] = field(default_factory=list)


class MemoryLimiter:
    """``margin_s`` (default 0.005 s) is added to every answered window entry;
    ``inflight_timeout_s`` (8 s) is how long an unanswered send occupies its windows."""

    def __init__(
        self,
        aimd: Aimd | None = None,
        *,
        margin_s: float = 0.005,
        inflight_timeout_s: float = 8.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.aimd = aimd or Aimd()
        self.margin_s = margin_s
        self.inflight_timeout_s = inflight_timeout_s
        self.clock = clock
        self._tat: dict[str, float] = {}
        self._paused: dict[str, float] = {}
        self._windows: dict[str, dict[str, float]] = {}  # key -> entry -> end
        self._departed: dict[str, float] = {}  # bot key -> its last admitted send
        self._learned: dict[str, _Learned] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _factor(self, limit: Limit, now: float) -> float:
        learned = self._learned.get(limit.key)
        if not limit.adaptive or learned is None:
            return 1.0
        return self.aimd.factor(learned.factor, learned.cut_at, now)

    def acquire(self, limits: list[Limit], max_wait_s: float) -> Grant:
        with self._lock:
            now = self.clock()
            start = now
            for limit in limits:
                start = max(
                    start,
                    self._tat.get(limit.key, 0.0) - limit.burst_s,
                    self._paused.get(limit.key, 0.0),
                )
            wait = start - now
            if wait > max_wait_s:
                return Grant(False, wait)
            for limit in limits:
                interval = limit.interval_s / self._factor(limit, now)
                self._tat[limit.key] = max(self._tat.get(limit.key, 0.0), start) + interval
            if len(self._tat) > FORGET_AFTER_KEYS:
                self._forget(now)
            return Grant(True, wait)

    def _forget(self, now: float) -> None:
        self._tat = {k: v for k, v in self._tat.items() if v > now}
        self._paused = {k: v for k, v in self._paused.items() if v > now}
        for key in list(self._windows):
            self._prune(key, now)

    def _prune(self, key: str, now: float) -> dict[str, float]:
        entries = self._windows.get(key, {})
        for entry in [e for e, end in entries.items() if end <= now]:
            del entries[entry]
        if not entries:
            self._windows.pop(key, None)
        return entries

    def admit(self, limits: list[Limit]) -> Admission:
        with self._lock:
            now = self.clock()
            wait = 0.0
            for limit in limits:
                wait = max(wait, self._paused.get(limit.key, 0.0) - now)
                factor = self._factor(limit, now)
                if limit.adaptive and limit.key in self._departed:
                    wait = max(wait, self._departed[limit.key] + min_gap_s(limit, factor) - now)
                if not limit.window_n:
                    continue
                n = window_n(limit, factor)
                ends = sorted(self._prune(limit.key, now).values())
                if len(ends) >= n:
                    # An unanswered entry ends window_s after an answer still to come at the
                    # earliest: that is the soonest a retry may pass.
                    soonest = min(ends[len(ends) - n], now + limit.window_s)
                    wait = max(wait, soonest - now)
            if wait > 0:
                return Admission(None, wait)
            entry = str(next(self._ids))
            for limit in limits:
                if limit.adaptive:
                    self._departed[limit.key] = now
                if limit.window_n:
                    window = self._windows.setdefault(limit.key, {})
                    window[entry] = now + limit.window_s + self.inflight_timeout_s
            return Admission(entry, 0.0)

    def done(self, limits: list[Limit], entry: str) -> None:
        with self._lock:
            now = self.clock()
            for limit in limits:
                ends = self._windows.get(limit.key)
                if ends is not None and entry in ends:
                    ends[entry] = now + limit.window_s + self.margin_s

    def pause(self, key: str, seconds: float, burst_s: float = 0.0) -> None:
        with self._lock:
            self._pause(key, seconds, burst_s, self.clock())

    def _pause(self, key: str, seconds: float, burst_s: float, now: float) -> float:
        """Pause ``key`` until ``now + seconds`` at least; returns the pause it had before."""
        before = self._paused.get(key, 0.0)
        until = max(before, now + seconds)
        self._paused[key] = until
        # The timeline restarts at the end of the pause, without catch-up credit.
        self._tat[key] = max(self._tat.get(key, 0.0), until + burst_s)
        return before

    def throttle(self, limit: Limit, seconds: float) -> Penalty:
        with self._lock:
            now = self.clock()
            paused_before = self._pause(limit.key, seconds, limit.burst_s, now)
            learned = self._learned.setdefault(limit.key, _Learned())
            learned.refusals += 1
            learned.last_429_at = now
            if paused_before > now:  # the same flood as the 429 that paused the bot
                return Penalty(False, self._factor(limit, now), tuple(learned.recent))
            learned.factor = self.aimd.after_cut(self._factor(limit, now))
            learned.cut_at = self._paused[limit.key]  # the clean stretch starts after the pause
            learned.recent = [*learned.recent, seconds][-RECENT_KEPT:]
            return Penalty(True, learned.factor, tuple(learned.recent))

    def next_free_s(self, key: str) -> float:
        with self._lock:
            now = self.clock()
            return max(0.0, self._tat.get(key, 0.0) - now, self._paused.get(key, 0.0) - now)

    def bot_rate(self, key: str) -> BotRate:
        with self._lock:
            now = self.clock()
            learned = self._learned.get(key) or _Learned()
            return BotRate(
                self.aimd.factor(learned.factor, learned.cut_at, now),
                max(0.0, self._paused.get(key, 0.0) - now),
                None if learned.last_429_at is None else now - learned.last_429_at,
                learned.refusals,
                tuple(learned.recent),
            )
