"""Long polling: ``getUpdates`` in a loop, for a bot configured with ``mode: polling``.

At start the webhook is deleted (Telegram refuses ``getUpdates`` while one is set; pending
updates are kept). Each batch is stored update by update; the offset moves past an update
only once it is stored, so a store outage pauses ingest (retried with backoff) and loses
nothing. Network and API errors are retried with backoff from ``retry_min_s`` doubling up to
``retry_max_s`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from aiogram.exceptions import AiogramError, TelegramUnauthorizedError

from bots.ingest_health import note
from bots.telegram.fields import UpdateError
from bots.telegram.updates import used_kinds
from store.errors import NotFound, StoreUnavailable

if TYPE_CHECKING:
    from bots.telegram.adapter import TelegramAdapter

log = logging.getLogger("switchboard.telegram")


class Poller:
    """Polls for one adapter until ``stop``."""

    def __init__(
        self,
        adapter: TelegramAdapter,
        *,
        timeout_s: int = 25,
        retry_min_s: float = 0.5,
        retry_max_s: float = 30.0,
    ) -> None:
        self.adapter = adapter
        self.timeout_s = timeout_s
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.offset: int | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"telegram-poll-{self.adapter.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _backoff(self, delay: float) -> float:
        await asyncio.sleep(delay)
        return min(self.retry_max_s, delay * 2)

    async def run(self) -> None:
        bot = self.adapter.bot()
        name = self.adapter.name
        delay = self.retry_min_s
        while True:
            try:
                await bot.delete_webhook(drop_pending_updates=False)
                await note(name, "polling", connected=True)  # before a long poll's wait
                break
            except TelegramUnauthorizedError:
                log.error("telegram %s: the token was refused; polling stopped", name)
                await self._failed("the token was refused; polling stopped")
                return
            except AiogramError as exc:
                log.warning("telegram %s: deleteWebhook failed: %s", name, type(exc).__name__)
                await self._failed(f"deleteWebhook failed: {self._why(exc)}")
                delay = await self._backoff(delay)
        delay = self.retry_min_s
        while True:
            try:
                updates = await bot.get_updates(
                    offset=self.offset,
                    timeout=self.timeout_s,
                    allowed_updates=used_kinds(self.adapter.settings_bot.business),
                    request_timeout=self.timeout_s + 10,
                )
            except TelegramUnauthorizedError:
                log.error("telegram %s: the token was refused; polling stopped", name)
                await self._failed("the token was refused; polling stopped")
                return
            except AiogramError as exc:
                log.warning("telegram %s: getUpdates failed: %s", name, type(exc).__name__)
                await self._failed(f"getUpdates failed: {self._why(exc)}")
                delay = await self._backoff(delay)
                continue
            delay = self.retry_min_s
            for update in updates:
                data = update.model_dump(mode="json", by_alias=True, exclude_none=True)
                await self._store(data)
                self.offset = update.update_id + 1
            await note(name, "polling", connected=True, inbound=bool(updates))

    def _why(self, exc: AiogramError) -> str:
        """The error in one line, without the bot's token (aiogram may quote the URL)."""
        text = f"{type(exc).__name__}: {exc}".splitlines()[0]
        token = self.adapter.settings_bot.token
        return text.replace(token.get_secret_value(), "<token>") if token else text

    async def _failed(self, error: str) -> None:
        await note(self.adapter.name, "polling", ok=False, error=error, connected=False)

    async def _store(self, data: dict[str, object]) -> None:
        delay = self.retry_min_s
        while True:
            try:
                await self.adapter.ingest.handle(data)
                return
            except UpdateError as exc:
                log.warning("telegram %s: skipped an update: %s", self.adapter.name, exc)
                return
            except (StoreUnavailable, NotFound) as exc:
                log.warning("telegram %s: cannot store yet (%s); retrying", self.adapter.name, exc)
                error = f"cannot store updates: {exc}"
                await note(self.adapter.name, "polling", ok=False, error=error, connected=True)
                delay = await self._backoff(delay)
