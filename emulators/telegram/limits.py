"""Telegram's flood limits, answering 429 with ``retry_after``, under a flood model.

Per bot ``messages_per_second`` (default 30); per private chat ``chat_messages_per_second``
(default 1, bursts of ``chat_burst``, default 3, in the ``bucket`` model only); per group
``group_messages_per_minute`` (default 20). How they are counted is the flood model
(``emulators.flood``): ``bucket`` (token buckets, the default), ``window`` (strict sliding
windows: 30 in any 1 s per bot, 1 in any 1 s per private chat, 20 in any 60 s per group) or
``escalating`` (``window``, and repeated 429s double ``retry_after``). A refused message
consumes nothing. ``retry_after`` is whole seconds, at least 1, as Telegram sends it.

A message sent with ``allow_paid_broadcast`` (the bot pays Stars for it) is counted against
``paid_messages_per_second`` (default 1,000, Telegram's ceiling for paid broadcasts) on a
counter of its own instead of the bot's 30 per second; the per-chat limits apply as ever.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from emulators.flood import FloodGate, Limit


@dataclass
class FloodLimits:
    """The counters of every bot and chat. ``enabled=False`` lets everything through."""

    clock: Callable[[], float]
    messages_per_second: float = 30.0
    chat_messages_per_second: float = 1.0
    chat_burst: float = 3.0
    group_messages_per_minute: float = 20.0
    paid_messages_per_second: float = 1000.0
    enabled: bool = True
    model: str = "bucket"
    gate: FloodGate = field(init=False)

    def __post_init__(self) -> None:
        self.gate = FloodGate(self.model)

    def set_model(self, model: str) -> None:
        """Count by ``model`` (bucket, window, escalating) from now on, from zero."""
        self.gate.set_model(model)
        self.model = model

    def take(
        self, token: str, chat_id: int, now: float | None = None, *, paid: bool = False
    ) -> int | None:
        """Count one message of bot ``token`` to ``chat_id`` received at ``now`` (default: the
        clock), a paid broadcast one when ``paid``; None when allowed, else the
        ``retry_after`` seconds to answer with."""
        if not self.enabled:
            return None
        if chat_id < 0:
            chat = Limit(self.group_messages_per_minute, 60.0)
        else:
            chat = Limit.per_second(self.chat_messages_per_second, self.chat_burst)
        bot: tuple[Hashable, Limit]
        if paid:
            bot = ((token, "paid"), Limit.per_second(self.paid_messages_per_second))
        else:
            bot = ((token, None), Limit.per_second(self.messages_per_second))
        checks = [((token, chat_id), chat), bot]
        return self.gate.admit(checks, self.clock() if now is None else now)

    def reset(self) -> None:
        self.gate.reset()
