"""Two delivery lanes per bot: interactive (an operator's reply) passes bulk (a broadcast).

A row's lane is ``Message.priority`` (``store.models.PRIORITIES``). Four things keep a reply
from waiting behind a broadcast that runs at the bot's limit:

1. The dispatcher hands the interactive lane over first (``store.outbox.take_due``).
2. Each lane has its own Dramatiq queue (``QUEUES``) and actor, and every sending process its
   own threads per lane (``delivery.interactive_threads`` for replies, ``worker_threads`` for
   bulk: ``workers.engine.Engine.start_workers``), so neither a backlog of broadcast ids in the
   broker nor busy broadcast senders are in the reply's way.
3. Bulk senders reserve rate-limit slots at most ``bulk_max_wait_s`` ahead (``reserve``):
   the limiter's timeline never runs further ahead than that, so a reply's slot — it may
   reserve up to ``max_wait_s`` ahead, like every send before lanes — is at most that far
   away. A bulk send whose slot is further off sleeps until it comes within reach and asks
   again (no reservation is held meanwhile); past ``max_wait_s`` it is deferred as before.
4. Behind the slots, the window guard (``workers.pacing``) admits a send only when a window
   has room; senders that found it full look again when it opens. A bulk sender looks again
   ``BULK_WINDOW_YIELD_S`` later than that (``window_yield_s``), so a reply waiting for the
   same room takes it first instead of drawing lots with every waiting broadcast thread.

The broadcast loses one slot per reply and about 1 % for the yield (10 ms per window of about
a second); bulk reservations still cover the sending threads' turnaround.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from config import TelegramBotSettings
from store.models import PRIORITY_BULK, PRIORITY_INTERACTIVE
from workers.ratelimit import BotConfig, Grant, Limit, Limiter

# Dramatiq queue and actor of each lane; "outbox" stays the bulk queue's name, as before lanes.
QUEUES: dict[int, str] = {PRIORITY_INTERACTIVE: "outbox_interactive", PRIORITY_BULK: "outbox"}
ACTORS: dict[int, str] = {PRIORITY_INTERACTIVE: "send_interactive", PRIORITY_BULK: "send_message"}
# A bulk sender never polls the limiter more often than this (seconds).
MIN_POLL_S = 0.005
# A bulk sender looks for window room this much later than an interactive one (seconds).
BULK_WINDOW_YIELD_S = 0.01


def queue_of(priority: int) -> str:
    """The Dramatiq queue of lane ``priority``; an unknown lane travels as bulk."""
    return QUEUES.get(priority, QUEUES[PRIORITY_BULK])


def is_paid(bot: BotConfig, priority: int) -> bool:
    """Whether a send of lane ``priority`` through ``bot`` is a Telegram paid broadcast: the
    bulk lane of a bot with ``paid_broadcast`` (sent with ``allow_paid_broadcast``, paced at
    ``paid_messages_per_second``)."""
    return priority == PRIORITY_BULK and isinstance(bot, TelegramBotSettings) and bot.paid_broadcast


def window_yield_s(priority: int) -> float:
    """How long after a full window opens a send of lane ``priority`` looks again (s)."""
    return 0.0 if priority == PRIORITY_INTERACTIVE else BULK_WINDOW_YIELD_S


def reserve(
    limiter: Limiter,
    limits: list[Limit],
    *,
    priority: int,
    max_wait_s: float,
    bulk_max_wait_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Grant:
    """A rate-limit slot for one send of lane ``priority``; the ``Grant`` says how long to
    sleep before sending (seconds), or — refused — how far off the slot was.

    Interactive: the first free slot up to ``max_wait_s`` ahead. Bulk: only a slot at most
    ``bulk_max_wait_s`` ahead is reserved; while the free slot is further off (but within
    ``max_wait_s`` from the call), this sleeps until it comes within reach and asks again.
    """
    if priority == PRIORITY_INTERACTIVE:
        return limiter.acquire(limits, max_wait_s)
    horizon = min(bulk_max_wait_s, max_wait_s)
    deadline = time.monotonic() + max_wait_s
    while True:
        grant = limiter.acquire(limits, horizon)
        if grant.granted:
            return grant
        left = deadline - time.monotonic()
        if grant.wait_s > left or left <= 0:
            return grant
        sleep(max(MIN_POLL_S, grant.wait_s - horizon))
