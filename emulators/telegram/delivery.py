"""Getting updates to the bot: pushed to its webhook, or kept for ``getUpdates``.

Every update is queued in ``BotState.pending`` first. With a webhook set, the queue is pushed
in order, one request at a time, with ``X-Telegram-Bot-Api-Secret-Token``; a 2xx answer
confirms an update, anything else (or no answer) keeps it queued and it is redelivered after
``redeliver_after_s`` (the real Telegram retries for 24 hours). Without a webhook the updates
wait for ``getUpdates``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from emulators.telegram.model import BotState, now_s

if TYPE_CHECKING:
    from emulators.telegram.server import TelegramEmulator

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook request: its update, the HTTP status (0: no answer) and any error text."""

    token: str
    update_id: int
    status: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Pusher:
    """The webhook side of the emulator (one HTTP session for every bot)."""

    def __init__(self, emu: TelegramEmulator, redeliver_after_s: float, timeout_s: float) -> None:
        self.emu = emu
        self.redeliver_after_s = redeliver_after_s
        self.timeout_s = timeout_s
        self._http: aiohttp.ClientSession | None = None
        self._retries: dict[str, asyncio.Task[None]] = {}

    async def close(self) -> None:
        for task in self._retries.values():
            task.cancel()
        await asyncio.gather(*self._retries.values(), return_exceptions=True)
        self._retries.clear()
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                connector=aiohttp.TCPConnector(limit=100),
            )
        return self._http

    async def push(self, bot: BotState) -> None:
        """Deliver the queue of ``bot`` in order until it is empty or a delivery fails."""
        async with bot.delivering:
            while bot.webhook is not None and bot.pending:
                hook = bot.webhook
                wanted = [
                    u
                    for u in bot.pending
                    if not hook.allowed_updates or any(k in u for k in hook.allowed_updates)
                ]
                bot.pending[:] = wanted
                if not wanted:
                    return
                update = wanted[0]
                delivery = await self._post(bot, update)
                self.emu.deliveries.append(delivery)
                self.emu.notify()
                if not delivery.ok:
                    hook.last_error_date = now_s()
                    hook.last_error_message = (
                        delivery.error or f"Wrong response from the webhook: {delivery.status}"
                    )
                    self._retry_later(bot)
                    return
                if bot.pending and bot.pending[0] is update:
                    bot.pending.pop(0)

    async def _post(self, bot: BotState, update: dict[str, Any]) -> Delivery:
        hook = bot.webhook
        assert hook is not None
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers[SECRET_HEADER] = hook.secret_token
        body = json.dumps(update).encode()
        try:
            async with self._session().post(hook.url, data=body, headers=headers) as response:
                await response.read()
                return Delivery(bot.token, update["update_id"], response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"Connection failed: {type(exc).__name__}"
            return Delivery(bot.token, update["update_id"], 0, error)

    def _retry_later(self, bot: BotState) -> None:
        if bot.token in self._retries and not self._retries[bot.token].done():
            return

        async def retry() -> None:
            await asyncio.sleep(self.redeliver_after_s)
            self._retries.pop(bot.token, None)
            await self.push(bot)

        self._retries[bot.token] = asyncio.create_task(retry())
