"""What became of a message an operator just wrote (F1, F2): sent, failed, or still queued
and why — never "queued" for a row a running sender is in the middle of sending.

``switchboard ... write`` sends the row itself unless a running sender (``serve`` or
``worker``) claimed it first; the admin bot's ``/write_*`` leave it to the running senders.
Either way the writer then watches the row (``watch_outcome``) until it has an outcome or a
bound passes, and says which one it was.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Literal

from config import Settings
from store.clock import shown, utcnow
from store.models import Message

SENT_STATUSES = ("sent", "delivered", "read")
POLL_S = 0.05

State = Literal["sent", "failed", "later", "unclaimed", "sending"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """``state``: ``sent``; ``failed`` (``row.error_text`` says why); ``later`` (queued again
    after a temporary failure or a rate limit, not before ``row.next_attempt_at``);
    ``unclaimed`` (no sender took it within the pick-up time: none is running, or all are
    busy); ``sending`` (a sender has it and no answer came within the wait)."""

    state: State
    row: Message


def pickup_s(settings: Settings) -> float:
    """How long a running sender takes at most to claim a due row: its dispatcher looks every
    ``delivery.dispatch_interval_s``; 2 s more cover a busy machine (default: 3 s)."""
    return 2.0 + 5 * settings.delivery.dispatch_interval_s


def settled(row: Message) -> State | None:
    """The outcome ``row`` already has, None while it is still on its way."""
    if row.status in SENT_STATUSES:
        return "sent"
    if row.status == "failed":
        return "failed"
    if row.status == "queued" and (
        row.attempts > 0 or (row.next_attempt_at is not None and row.next_attempt_at > utcnow())
    ):
        return "later"
    return None


def watch_outcome(message_id: int, *, pickup_s: float, settle_s: float) -> Outcome:
    """Watch outbox row ``message_id`` (every 50 ms) until it has an outcome; ``unclaimed``
    when it is still waiting for a sender after ``pickup_s``, ``sending`` when a sender still
    has it after ``settle_s`` (seconds). Blocking store code."""
    started = time.monotonic()
    while True:
        row = Message.get_by_id(message_id)
        state = settled(row)
        if state is not None:
            return Outcome(state, row)
        waited = time.monotonic() - started
        if row.status == "queued" and waited >= pickup_s:
            return Outcome("unclaimed", row)
        if waited >= settle_s:
            return Outcome("sending", row)
        time.sleep(POLL_S)


def reason(row: Message) -> str:
    """``: <error>`` when the row carries one, else empty."""
    return f": {row.error_text}" if row.error_text else ""


def next_attempt(row: Message, zone: dt.tzinfo) -> str:
    """`` (next attempt <time in zone>)`` when the row has one, else empty."""
    when = row.next_attempt_at
    return f" (next attempt {shown(when, zone, seconds=True)})" if when is not None else ""
