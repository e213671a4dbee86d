"""How a channel reports its ingest state (``store.ingest_state``) from async code.

``await note(...)`` updates this process's registry at once and, when a write is due (at most
every few seconds per bot, or when the state flips), saves the record off the event loop. A
store that cannot take the write costs nothing but a DEBUG line: ingest goes on.
"""

from __future__ import annotations

import logging

from bots.webhook import store_call
from store.ingest_state import report, save

log = logging.getLogger("switchboard.ingest")


async def note(
    bot: str,
    mode: str,
    *,
    ok: bool = True,
    error: str = "",
    inbound: bool = False,
    connected: bool | None = None,
) -> None:
    """Report one ingest event of ``bot``: ``ok`` a sign of life, else ``error`` (one line);
    ``inbound`` when a message was stored; ``connected`` for pollers and IMAP sessions."""
    due = report(bot, mode, ok=ok, error=error, inbound=inbound, connected=connected)
    if due is None:
        return
    try:
        await store_call(save, due)
    except Exception as exc:  # the store is down or locked: the next report tries again
        log.debug("ingest state of %s not saved: %s", bot, exc)
