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
        if database_proxy.obj is None:
            return None
        try:
            return await store_call(known_file_id, self.bot_name, key, self.max_age)
        except StoreError as exc:
            log.warning("bot %s: file ids unavailable (%s); sending the file", self.bot_name, exc)
            return None

    async def remember(self, key: str, file_id: str) -> None:
        if database_proxy.obj is None:
            return
        try:
            await store_call(remember_file_id, self.bot_name, key, file_id)
        except StoreError as exc:
            log.warning("bot %s: cannot record a file id (%s)", self.bot_name, exc)

    async def forget(self, key: str, file_id: str) -> None:
        if database_proxy.obj is None:
            return
        try:
            await store_call(forget_file_id, self.bot_name, key, file_id)
        except StoreError as exc:
            log.warning("bot %s: cannot drop a file id (%s)", self.bot_name, exc)
