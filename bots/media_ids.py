"""The ids a platform gave a bot for its files, seen from an adapter (``store.media_uploads``).

One ``MediaIds`` per adapter (so per event loop): ``known`` / ``remember`` / ``forget`` run
in the store's worker thread; ``first_upload(key)`` is a lock the first sends of one file
share, so in one event loop N recipients cost one upload. The store being unavailable, or
not open (an adapter used on its own), only costs the shortcut: the file is sent itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from bots.webhook import store_call
from store.db import database_proxy
from store.errors import StoreError
from store.media_uploads import forget_file_id, known_file_id, remember_file_id

log = logging.getLogger("switchboard.media")


class MediaIds:
    def __init__(self, bot_name: str, max_age: dt.timedelta | None = None) -> None:
        self.bot_name = bot_name
        self.max_age = max_age
        self._locks: dict[str, asyncio.Lock] = {}

    def first_upload(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def known(self, key: str) -> str | None:
        found = await self._call(known_file_id, key, self.max_age, what="read file ids")
        return found if isinstance(found, str) else None

    async def remember(self, key: str, file_id: str) -> None:
        await self._call(remember_file_id, key, file_id, what="record a file id")

    async def forget(self, key: str, file_id: str) -> None:
        await self._call(forget_file_id, key, file_id, what="drop a file id")

    async def _call(self, fn: Callable[..., object], *args: object, what: str) -> object:
        """``fn(bot, *args)`` in the store's thread; None when no store is open or it fails
        (logged: the file is then simply sent itself)."""
        if database_proxy.obj is None:
            return None
        try:
            return await store_call(fn, self.bot_name, *args)
        except StoreError as exc:
            log.warning("bot %s: cannot %s (%s); sending the file", self.bot_name, what, exc)
            return None
