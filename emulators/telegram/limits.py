"""Telegram's flood limits as token buckets, answering 429 with ``retry_after``.

Per bot ``messages_per_second`` (default 30, bursts up to that many); per private chat
``chat_messages_per_second`` (default 1) with bursts of ``chat_burst`` (default 3); per group
``group_messages_per_minute`` (default 20, bursts up to that many). A refused message consumes
nothing. ``retry_after`` is whole seconds, at least 1, as Telegram sends it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Bucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float
    at: float  # clock reading of the last refill

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def wait_s(self) -> float:
        """Seconds until one token is there (0 when there is one now)."""
        # the epsilon absorbs float error: 30 sends then 1/30 s later is one token, not 0.999..
        return 0.0 if self.tokens >= 1.0 - 1e-9 else (1.0 - self.tokens) / self.rate


@dataclass
class FloodLimits:
    """The buckets of every bot and chat. ``enabled=False`` lets everything through."""

    clock: Callable[[], float]
    messages_per_second: float = 30.0
    chat_messages_per_second: float = 1.0
    chat_burst: float = 3.0
    group_messages_per_minute: float = 20.0
    enabled: bool = True
    _buckets: dict[tuple[str, int | None], Bucket] = field(default_factory=dict)

    def _bucket(self, token: str, chat_id: int | None, now: float) -> Bucket:
        key = (token, chat_id)
        bucket = self._buckets.get(key)
        if bucket is None:
            if chat_id is None:
                rate, capacity = self.messages_per_second, max(self.messages_per_second, 1.0)
            elif chat_id < 0:
                rate = self.group_messages_per_minute / 60.0
                capacity = max(self.group_messages_per_minute, 1.0)
            else:
                rate, capacity = self.chat_messages_per_second, max(self.chat_burst, 1.0)
            bucket = Bucket(rate, capacity, capacity, now)
            self._buckets[key] = bucket
        bucket.refill(now)
        return bucket

    def take(self, token: str, chat_id: int) -> int | None:
        """Count one message of bot ``token`` to ``chat_id``; None when allowed, else the
        ``retry_after`` seconds to answer with."""
        if not self.enabled:
            return None
        now = self.clock()
        chat = self._bucket(token, chat_id, now)
        bot = self._bucket(token, None, now)
        wait = max(chat.wait_s(), bot.wait_s())
        if wait > 0:
            return max(1, math.ceil(wait))
        chat.tokens -= 1.0
        bot.tokens -= 1.0
        return None

    def reset(self) -> None:
        self._buckets.clear()
