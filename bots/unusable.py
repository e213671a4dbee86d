"""Inbound items a channel cannot use: logged, counted, kept — and their neighbours go on.

A webhook request carries many items (a Cloud API batch: entries, changes, messages,
statuses; a Telegram update is one). An item of the wrong shape (a message without a valid
``from``, an update whose chat id is not an integer) must not cost the others: the parser
returns it as an ``Unusable`` and the webhook hands it to ``record_unusable``, which logs it at
WARNING (bot, channel, reason: never the payload or a token), counts it for ``/metrics``
(``switchboard_ingest_rejected_total{bot,reason}``) and keeps the raw item in
``unparsed_item`` for 7 days (``store.unparsed``). Only a request that is malformed as a whole
(bad JSON, bad signature, too big) is refused with 4xx.

The counter lives in this process: webhooks are served by ``switchboard serve`` processes,
each scraped by Prometheus as its own target, so a process-local counter is the usual kind
(a restart resets it, which ``rate()`` handles); the table is what every process shares.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from store.unparsed import RAW_CHARS, record_unparsed

log = logging.getLogger("switchboard.ingest")

_lock = threading.Lock()
_rejected: Counter[tuple[str, str]] = Counter()


@dataclass(frozen=True, slots=True)
class Unusable:
    """One item left out: ``reason`` is a short stable label (a metric label, e.g.
    ``message.from``), ``detail`` one line saying what was wrong, ``raw`` the item as received
    (any JSON value, or text)."""

    reason: str
    detail: str
    raw: Any


def raw_text(raw: Any) -> str:
    """The item as text for the table: JSON for JSON values, at most ``RAW_CHARS``."""
    if isinstance(raw, str):
        return raw[:RAW_CHARS]
    try:
        text = json.dumps(raw, ensure_ascii=False, default=repr)
    except (ValueError, RecursionError):
        text = repr(raw)
    return text[:RAW_CHARS]


def record_unusable(bot: str, channel: str, items: list[Unusable]) -> None:
    """Log, count and keep ``items`` of ``bot`` (blocking: run through ``store_call``)."""
    for item in items:
        log.warning(
            "%s %s: unusable item left out (%s): %s", channel, bot, item.reason, item.detail
        )
        with _lock:
            _rejected[(bot, item.reason)] += 1
        record_unparsed(bot, channel, item.reason, item.detail, raw_text(item.raw))


def rejected_counts() -> dict[tuple[str, str], int]:
    """``{(bot, reason): n}`` of this process since it started."""
    with _lock:
        return dict(_rejected)
