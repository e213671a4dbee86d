"""A scripted stand-in for a messaging platform, until the emulators are used everywhere.

Recipients pick the platform's answer: ``retry-N`` (429 with retry_after N once), ``pair-N``
(a per-recipient limit: retry after N, this chat only, once), ``flaky-K``
(K transient failures then success), ``blocked``, ``gone``, ``refused``, ``down`` (always
transient), ``late`` (delivered, then the answer times out: a transient error that may have
arrived); anything else is accepted. Every call is recorded with its time.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, ClassVar

from aiohttp import web

from bots.contract import OutboundMessage, SendResult
from bots.errors import Blocked, PermanentError, RecipientGone, RetryAfter, TransientError
from store.clock import utcnow


class ScriptedPlatform:
    """Shared by every adapter instance of a test (adapters are built per worker thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, Any, int | None]] = []  # (recipient, time, outbox id)
        self.delivered: Counter[int] = Counter()
        self.tries: Counter[str] = Counter()
        self.closed = 0

    def answer(self, message: OutboundMessage) -> SendResult:
        to = message.messenger_id
        with self.lock:
            self.calls.append((to, utcnow(), message.outbox_id))
            self.tries[to] += 1
            tries = self.tries[to]
        if to.startswith("retry-") and tries == 1:
            raise RetryAfter(float(to.split("-")[1]), code="429")
        if to.startswith("pair-") and tries == 1:
            raise RetryAfter(float(to.split("-")[1]), scope="chat", code="131056")
        if to.startswith("flaky-") and tries <= int(to.split("-")[1]):
            raise TransientError("502 Bad Gateway", code="502")
        if to == "down":
            raise TransientError("timeout", code="timeout")
        if to == "late":
            with self.lock:
                self.delivered[message.outbox_id or 0] += 1
            raise TransientError("Request timeout error", code="timeout", maybe_delivered=True)
        if to == "blocked":
            raise Blocked("Forbidden: bot was blocked by the user", code="403")
        if to == "gone":
            raise RecipientGone("Bad Request: chat not found", code="400")
        if to == "refused":
            raise PermanentError("Bad Request: message text is empty", code="400")
        with self.lock:
            self.delivered[message.outbox_id or 0] += 1
        return SendResult(platform_message_id=f"p{message.outbox_id}")


class ScriptedAdapter:
    kind: ClassVar[str] = "telegram"

    def __init__(self, name: str, platform: ScriptedPlatform) -> None:
        self.name = name
        self.platform = platform

    def add_routes(self, app: web.Application) -> None:
        pass

    async def start(self) -> None:
        pass

    async def send(self, message: OutboundMessage) -> SendResult:
        return self.platform.answer(message)

    async def close(self) -> None:
        with self.platform.lock:
            self.platform.closed += 1
