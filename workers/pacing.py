"""What the send limiters share: pacing keys, their answers, and the AIMD rule of a bot's rate.

A send passes these gates per key (``workers.memory_limiter``, ``workers.redis_limiter``):

1. **Spacing** (GCRA, ``acquire``): a key's "theoretical arrival time" (TAT) says where the
   next message goes if sends follow each other ``interval_s`` apart; a send may go ``burst_s``
   before it (catch-up after our own stalls) and reserves its slot before sleeping, so any
   number of threads and processes share one evenly spaced timeline.
2. **Window guard** (``admit`` / ``done``): a key keeps an entry per send still inside its
   window; a send is admitted only while fewer than ``window_n`` entries occupy it. An entry
   ends ``window_s`` after the platform *answered* (``done``), or ``inflight_timeout_s`` later
   while no answer came (a worker killed mid-send). The platform counted send k-N no later
   than it answered, and counts send k no earlier than we sent it; so departure(k) >=
   answer(k-N) + window_s keeps at most N sends in any window *at the platform*, whatever the
   network jitter — ACK clocking, as in TCP. Spacing alone cannot promise that: a late answer
   and a punctual one can land in the same second at the platform.

3. **Departure gap** (``admit``, bot keys): a bot's sends depart at least ``DEPARTURE_GAP`` of
   an interval apart at its learned rate. A catch-up burst, or a window whose old entries all
   end at once, goes out at twice the rate at most, not all in the same millisecond: few sends
   are in flight when a platform starts refusing (each one refused then may earn a longer
   retry-after from a platform that escalates).

A platform pause (``pause``: a retry-after of one chat; ``throttle``: of the whole bot) holds
every send of the key until it ends and resets its timeline to the end of the pause, so sends
resume at the plain rate: catch-up never makes up time the platform told us to wait.

``throttle`` also cuts the bot's learned rate (AIMD, ``Aimd``): multiplicatively on a 429, back
up additively after each clean stretch. The learned rate is a fraction of the configured one,
so changing the configuration keeps the penalty in proportion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Limit:
    """One pacing key.

    ``interval_s``: seconds between sends at the configured rate; ``burst_s``: catch-up
    tolerance of the spacing (seconds, 0: strict). ``window_n`` sends at most in any
    ``window_s`` seconds at the platform (``window_n`` 0: no window guard). ``adaptive``: the
    key is a bot's, whose interval and ``window_n`` follow the learned rate (AIMD).
    """

    key: str
    interval_s: float
    burst_s: float = 0.0
    window_n: int = 0
    window_s: float = 0.0
    adaptive: bool = False


@dataclass(frozen=True, slots=True)
class Grant:
    """The answer of ``acquire``: ``granted`` with ``wait_s`` to sleep, or refused with the
    wait that would have been needed (seconds)."""

    granted: bool
    wait_s: float


@dataclass(frozen=True, slots=True)
class Admission:
    """The answer of ``admit``: an ``entry`` (pass it to ``done`` when the platform answered),
    or None with ``wait_s``: the earliest time a retry can succeed (seconds, a lower bound)."""

    entry: str | None
    wait_s: float


@dataclass(frozen=True, slots=True)
class Penalty:
    """The answer of ``throttle``: whether this 429 ``cut`` the rate (not when the bot was
    already paused by an earlier one), the learned ``factor`` (0–1 of the configured rate) and
    the retry-after of the latest cuts, oldest first (seconds)."""

    cut: bool
    factor: float
    recent_retry_after_s: tuple[float, ...]

    @property
    def escalating(self) -> bool:
        """The platform answered this cut with a longer retry-after than the cut before."""
        recent = self.recent_retry_after_s
        return self.cut and len(recent) >= 2 and recent[-1] > recent[-2]


@dataclass(frozen=True, slots=True)
class BotRate:
    """What the limiter knows of one bot key, for ``/ops`` and ``/metrics``: ``factor`` of the
    configured rate it learned, ``paused_s`` left of a platform pause, ``last_429_ago_s``
    (None: none seen), ``refusals`` (bot-wide 429s counted) and the latest cuts' retry-afters."""

    factor: float
    paused_s: float
    last_429_ago_s: float | None
    refusals: int
    recent_retry_after_s: tuple[float, ...]


RECENT_KEPT = 5


@dataclass(frozen=True, slots=True)
class Aimd:
    """A bot's learned rate (``delivery.rate_*`` settings): a 429 multiplies it by ``cut``
    (default 0.85), never below ``floor`` (0.1) of the configured rate; every ``raise_every_s``
    (10 s) without a 429 after its pause ended adds ``raise_step`` (0.05) of the configured
    rate, up to all of it."""

    cut: float = 0.85
    floor: float = 0.1
    raise_step: float = 0.05
    raise_every_s: float = 10.0

    def factor(self, stored: float, cut_at_s: float | None, now_s: float) -> float:
        """The learned factor at ``now_s``: ``stored`` at ``cut_at_s`` (the end of the pause
        of the last cut), raised since."""
        if cut_at_s is None:
            return 1.0
        steps = max(0, math.floor((now_s - cut_at_s) / self.raise_every_s))
        return min(1.0, stored + steps * self.raise_step)

    def after_cut(self, factor: float) -> float:
        return max(self.floor, factor * self.cut)


DEPARTURE_GAP = 0.5


def min_gap_s(limit: Limit, factor: float) -> float:
    """Seconds a key's sends depart apart at least at the learned ``factor`` (bot keys)."""
    return limit.interval_s / factor * DEPARTURE_GAP if limit.adaptive else 0.0


def window_n(limit: Limit, factor: float) -> int:
    """Sends a key admits per window at the learned ``factor`` (at least 1)."""
    return max(1, math.floor(limit.window_n * factor + 1e-9)) if limit.adaptive else limit.window_n


class Limiter(Protocol):
    def acquire(self, limits: list[Limit], max_wait_s: float) -> Grant: ...

    def admit(self, limits: list[Limit]) -> Admission: ...

    def done(self, limits: list[Limit], entry: str) -> None: ...

    def pause(self, key: str, seconds: float, burst_s: float = 0.0) -> None: ...

    def throttle(self, limit: Limit, seconds: float) -> Penalty: ...

    def next_free_s(self, key: str) -> float: ...

    def bot_rate(self, key: str) -> BotRate: ...
