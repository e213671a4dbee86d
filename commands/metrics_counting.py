"""What ``serve`` counts for ``/metrics`` besides the senders: inbound messages and webhook
requests, added to the engine's shared counters (``workers.stats``: Redis in ``redis://``
mode, so every ``serve`` instance adds to the same numbers).

Both are seams of this layer, as the dependency rule keeps ``bots`` and ``store`` from
importing ``workers``: inbound messages arrive through ``store.counters.on_inbound`` (called
after the inbound write committed, for webhooks, long polling and IMAP alike), webhook
requests through an aiohttp middleware that sees every answer under ``/webhooks/`` — also the
4xx raised before a handler ran (413, 400) and the 404 of an unknown bot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from config import Settings
from store.counters import on_inbound
from workers.stats import MemoryStats, Stats

log = logging.getLogger("switchboard.metrics")

WEBHOOK_PREFIX = "/webhooks/"
UNKNOWN_BOT = "_unknown"  # one label for every name that is not a configured bot

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def webhook_bot(path: str, bots: frozenset[str]) -> str | None:
    """The bot label of a request to ``path``: its configured bot, ``UNKNOWN_BOT`` for any
    other name (so a scanner cannot create series), None when it is no webhook."""
    if not path.startswith(WEBHOOK_PREFIX):
        return None
    parts = path[len(WEBHOOK_PREFIX) :].split("/")
    if len(parts) < 2:
        return UNKNOWN_BOT
    return parts[1] if parts[1] in bots else UNKNOWN_BOT


def webhook_counter(stats: Stats, bots: frozenset[str]) -> Middleware:
    """A middleware counting every webhook answer as ``webhook`` / ``<status code>``."""

    in_memory = isinstance(stats, MemoryStats)

    async def count(bot: str, status: int) -> None:
        try:
            if in_memory:  # a dict under a lock: cheaper than a thread hop
                stats.record(bot, "webhook", str(status))
            else:  # off the event loop: in redis:// mode this is a network call
                await asyncio.to_thread(stats.record, bot, "webhook", str(status))
        except Exception as exc:  # a counter never changes the platform's answer
            log.warning("webhook counter for bot %s failed: %s: %s", bot, type(exc).__name__, exc)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        bot = webhook_bot(request.path, bots)
        if bot is None:
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            await count(bot, exc.status)
            raise
        except Exception:
            await count(bot, 500)
            raise
        await count(bot, response.status)
        return response

    return middleware


def install_counting(app: web.Application, settings: Settings, stats: Stats) -> None:
    """Count this app's webhook requests, and inbound messages while the app runs."""
    bots = frozenset(bot.name for bot in settings.bots)
    app.middlewares.append(webhook_counter(stats, bots))
    removers: list[Callable[[], None]] = []

    def inbound(bot: str, kind: str, n: int) -> None:
        stats.record(bot, "inbound", kind, n=n)

    async def start(_: web.Application) -> None:
        removers.append(on_inbound(inbound))

    async def stop(_: web.Application) -> None:
        while removers:
            removers.pop()()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
