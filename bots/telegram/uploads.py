"""A file sent by path or URL goes to Telegram once per bot; then by its ``file_id``.

The first send of a file (a campaign's photo to its first recipient) uploads it or has
Telegram fetch the URL; the ``file_id`` in the answer is recorded (``bots.media_ids``, under
the file's content key: ``store.media_uploads``) and every later send of the same content by
the same bot, in any worker process, names that id instead. A recorded id Telegram no longer
accepts is dropped and the file sent again from its source.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import FSInputFile, Message

from bots.contract import OutboundAttachment
from bots.errors import PermanentError
from bots.media_ids import MediaIds
from store.media_uploads import key_of_file, key_of_url

log = logging.getLogger("switchboard.telegram")

Media = str | FSInputFile
SendMedia = Callable[[Media], Awaitable[Message]]


def file_id_of(message: Message) -> str | None:
    """The ``file_id`` of the file ``message`` carries (the largest size of a photo)."""
    if message.photo:
        return message.photo[-1].file_id
    for part in (message.video, message.document, message.audio, message.animation):
        if part is not None:
            return part.file_id
    return None


class TelegramUploads:
    """The upload-once rule for one bot (one per adapter, so per event loop)."""

    def __init__(self, bot_name: str) -> None:
        self.ids = MediaIds(bot_name)

    async def send(self, attachment: OutboundAttachment, send: SendMedia) -> Message:
        """``send`` the attachment: by a recorded ``file_id`` when there is one, else from
        its source (recording the ``file_id`` Telegram answers)."""
        source, content_key = await _source_and_key(attachment)
        # a photo's file_id does not send a document: the kind is part of the key
        key = f"{attachment.kind}:{content_key}"
        known = await self.ids.known(key)
        if known is not None:
            try:
                return await send(known)
            except TelegramBadRequest as exc:
                if "file" not in exc.message.lower():
                    raise
                log.info("bot %s: a recorded file id was refused (%s)", self.ids.bot_name, exc)
                await self.ids.forget(key, known)
        async with self.ids.first_upload(key):
            known = await self.ids.known(key)  # the send that held the lock may have uploaded
            if known is not None:
                return await send(known)
            sent = await send(source)
            file_id = file_id_of(sent)
            if file_id:
                await self.ids.remember(key, file_id)
            return sent


async def _source_and_key(attachment: OutboundAttachment) -> tuple[Media, str]:
    if attachment.url:
        return attachment.url, key_of_url(attachment.url)
    if attachment.path:
        path = attachment.path
        # checked here: aiogram would report an unreadable file as a network error
        if not await asyncio.to_thread(os.path.isfile, path):
            raise PermanentError(f"cannot read the attachment: no file {path}")
        try:
            key = await asyncio.to_thread(key_of_file, path)
        except OSError as exc:
            raise PermanentError(f"cannot read the attachment {path}: {exc.strerror}") from None
        return FSInputFile(path, filename=attachment.file_name), key
    raise PermanentError("an attachment needs a url, a file_id or a path")
