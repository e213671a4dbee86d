"""Storing Telegram updates, from the webhook and from long polling alike.

``Ingest.handle(update_json)`` parses the update (``bots.telegram.updates``), records it with
``store.inbound.record_inbound`` (the one write path, through ``bots.batching``'s group
commit; the same ``update_id`` twice stores one message) and then, off the caller's path,
answers a button press (so the user's button stops spinning) and looks up a new client's
avatar. Avatars are stored as this service's own URL, ``/media/telegram/<bot>/<file_id>``
(served by ``bots.telegram.webhook``), because Telegram's file URLs contain the bot token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal

from aiogram import Bot
from aiogram.exceptions import AiogramError

from bots.batching import InboundWriter
from bots.telegram.business import parse_business, parse_connection
from bots.telegram.fields import UpdateError
from bots.telegram.updates import ParsedUpdate, parse_update, update_id_of
from bots.unusable import Unusable, record_unusable
from bots.webhook import store_call
from store.business import mark_deleted, save_connection
from store.errors import StoreError, StoreRejected, first_line
from store.inbound import set_avatar_url

log = logging.getLogger("switchboard.telegram")

Outcome = Literal["stored", "duplicate", "ignored", "unusable"]
MAX_SIDE_TASKS = 4  # concurrent avatar look-ups and callback answers per bot


def media_path(bot_name: str, file_id: str) -> str:
    return f"/media/telegram/{bot_name}/{file_id}"


class Ingest:
    """The ingest of one bot. ``bot`` gives the aiogram ``Bot`` for the follow-up calls."""

    def __init__(
        self,
        bot_name: str,
        bot: Callable[[], Bot],
        *,
        fetch_avatars: bool,
        business: bool = False,
    ) -> None:
        self.bot_name = bot_name
        self._bot = bot
        self.fetch_avatars = fetch_avatars
        self.business = business  # Telegram Business updates are stored (``business: true``)
        self._tasks: set[asyncio.Task[None]] = set()
        self._limit = asyncio.Semaphore(MAX_SIDE_TASKS)
        self.writer = InboundWriter()

    async def handle(self, data: dict[str, Any]) -> Outcome:
        """Store one update. Raises ``UpdateError`` (not an update: no integer ``update_id``),
        ``StoreUnavailable`` (retry later) or ``NotFound`` (the bot is not in the store).

        An update we cannot use (a chat id that is not a 64-bit integer, a message that is not
        an object) is ``"unusable"``: logged, counted and kept by ``bots.unusable``, and
        acknowledged, so Telegram does not hold the bot's later updates behind it. So is an
        update whose data the database refuses (``StoreRejected``: the writer stored the
        others of its batch).
        """
        update_id_of(data)
        parsed: ParsedUpdate | None = None
        connection = None
        try:
            if self.business:
                connection = parse_connection(data)
                if connection is None:
                    parsed = parse_business(self.bot_name, data)
            if connection is None:
                parsed = parsed or parse_update(self.bot_name, data)
        except UpdateError as exc:
            reason = str(exc).split(" ", 1)[0]
            await self._unusable(Unusable(reason, str(exc), data))
            return "unusable"
        except Exception as exc:  # the boundary's last guard: an update is never a 500
            reason = f"update.{type(exc).__name__}"
            await self._unusable(Unusable(reason, f"unreadable update: {first_line(exc)}", data))
            return "unusable"
        if connection is not None:
            await store_call(save_connection, self.bot_name, connection)
            return "stored"
        if parsed is None:
            return "ignored"
        try:
            result = await self.writer.record(parsed.event)
        except StoreRejected as exc:
            await self._unusable(Unusable("update.store", str(exc), data))
            return "unusable"
        if parsed.deleted_ids:  # also on a redelivery: the first may have stopped halfway
            await store_call(mark_deleted, result.client_id, list(parsed.deleted_ids))
        if result.duplicate:
            return "duplicate"
        if parsed.callback_query_id:
            self._spawn(self._answer(parsed.callback_query_id))
        if result.client_created and self.fetch_avatars and parsed.user_id:
            self._spawn(self._avatar(result.client_id, parsed))
        return "stored"

    async def _unusable(self, item: Unusable) -> None:
        await store_call(record_unusable, self.bot_name, "telegram", [item])

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._limited(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _limited(self, work: Coroutine[Any, Any, None]) -> None:
        async with self._limit:
            try:
                await work
            except (AiogramError, StoreError, TimeoutError) as exc:
                log.info("telegram %s: follow-up failed: %s", self.bot_name, type(exc).__name__)
            except Exception as exc:  # best effort: an id the update carried may be unusable
                # (a lone surrogate in a callback query id cannot even be encoded); the update
                # itself is stored, and a task's exception must never go unretrieved.
                log.warning(
                    "telegram %s: follow-up failed: %s: %s",
                    self.bot_name,
                    type(exc).__name__,
                    first_line(exc),
                )

    async def _answer(self, query_id: str) -> None:
        await self._bot().answer_callback_query(query_id)

    async def _avatar(self, client_id: int, parsed: ParsedUpdate) -> None:
        assert parsed.user_id is not None
        photos = await self._bot().get_user_profile_photos(parsed.user_id, limit=1)
        if photos.photos and photos.photos[0]:
            file_id = photos.photos[0][-1].file_id  # the largest size comes last
            await store_call(set_avatar_url, client_id, media_path(self.bot_name, file_id))

    async def drain(self) -> None:
        """Wait for the follow-up calls started so far (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.drain()
        await self.writer.close()
