"""Inbound message counts for ``/metrics``: a seam between the one inbound write path and
whoever counts (the dependency rule keeps ``store`` from importing ``workers.stats``).

``store.inbound.record_inbound_many`` calls ``inbound_stored`` after its transaction
committed, with the new messages per ``(bot, kind)`` (redeliveries are not counted). The
command layer registers the callback that adds them to the delivery counters
(``commands.delivery.install_delivery``); with no callback registered (the CLI, tests of the
store alone) nothing is counted. A failing callback is logged and never fails the write.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Final, Protocol

log = logging.getLogger("switchboard.store")

# ``kind`` of an inbound message: plain text, a message with attachments, or a service event
# (a pin, a reaction, a join, a business owner's own message): a closed set, so every series
# can exist at 0 from the first scrape.
INBOUND_KINDS: Final = ("text", "media", "event")

InboundCallback = Callable[[str, str, int], None]  # bot name, kind, how many


class _Event(Protocol):
    @property
    def author_kind(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def attachments(self) -> tuple[object, ...]: ...


def inbound_kind(event: _Event) -> str:
    """``event``'s entry of ``INBOUND_KINDS``."""
    if event.author_kind == "system" or event.direction != "in":
        return "event"
    return "media" if event.attachments else "text"


_lock = threading.Lock()
_callbacks: list[InboundCallback] = []


def on_inbound(callback: InboundCallback) -> Callable[[], None]:
    """Call ``callback(bot, kind, n)`` for every batch of newly stored inbound messages;
    returns the function that unregisters it."""
    with _lock:
        _callbacks.append(callback)

    def remove() -> None:
        with _lock:
            if callback in _callbacks:
                _callbacks.remove(callback)

    return remove


def inbound_stored(counts: Iterable[tuple[str, str, int]]) -> None:
    """Report ``(bot, kind, n)`` new messages to every registered callback."""
    with _lock:
        callbacks = list(_callbacks)
    if not callbacks:
        return
    items = [item for item in counts if item[2] > 0]
    for callback in callbacks:
        for bot, kind, n in items:
            try:
                callback(bot, kind, n)
            except Exception as exc:  # a counter must never fail a stored message
                name = type(exc).__name__
                log.warning("inbound counter for bot %s failed: %s: %s", bot, name, exc)
