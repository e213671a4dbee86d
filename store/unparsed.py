"""Inbound items no channel could use: kept 7 days so an operator can see what a platform sent.

Written by ``bots.unusable`` (which also logs and counts them), listed on ``/ops``, deleted
by ``purge_expired`` from the delivery dispatcher's tick (at most once per ``PURGE_EVERY_S``).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Final

from store.clock import utcnow
from store.models import UnparsedItem
from store.sanitize import clean_text, clip

KEEP_FOR: Final = dt.timedelta(days=7)
RAW_CHARS: Final = 64 * 1024  # the item as received, clipped
DETAIL_CHARS: Final = 1000
PURGE_EVERY_S: Final = 600.0

_purge_lock = threading.Lock()
_last_purge = -PURGE_EVERY_S  # time.monotonic() of the last purge in this process


def record_unparsed(
    bot: str, channel: str, reason: str, detail: str, raw: str, *, now: dt.datetime | None = None
) -> int:
    """Keep one unusable item; its id. Every string is cleaned and clipped to its column."""
    row = UnparsedItem.create(
        bot=clip(clean_text(bot), 64)[0],
        channel=clip(clean_text(channel), 16)[0],
        reason=clip(clean_text(reason), 200)[0],
        detail=clip(clean_text(detail), DETAIL_CHARS)[0],
        payload=clip(clean_text(raw), RAW_CHARS)[0],
        received_at=now or utcnow(),
    )
    return int(row.id)


def recent_unparsed(limit: int = 20) -> list[UnparsedItem]:
    """The newest unusable items, newest first."""
    query = UnparsedItem.select().order_by(UnparsedItem.received_at.desc(), UnparsedItem.id.desc())
    return list(query.limit(limit))


def purge_unparsed(now: dt.datetime | None = None) -> int:
    """Delete the items older than ``KEEP_FOR``; how many went."""
    cutoff = (now or utcnow()) - KEEP_FOR
    return int(UnparsedItem.delete().where(UnparsedItem.received_at < cutoff).execute())


def purge_expired() -> None:
    """``purge_unparsed`` at most once per ``PURGE_EVERY_S`` in this process: cheap to call from
    a tick that runs every second."""
    global _last_purge
    with _purge_lock:
        if time.monotonic() - _last_purge < PURGE_EVERY_S:
            return
        _last_purge = time.monotonic()
    purge_unparsed()
