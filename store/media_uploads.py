"""Files a platform already holds, per bot: upload once, then send by the platform's id.

A campaign's photo goes to thousands of clients. Telegram answers the first send of a file
with a ``file_id`` the same bot may send again without uploading (or fetching the URL); the
WhatsApp Cloud API keeps an uploaded file 30 days under a media id. The adapters record that
id here under a *content key* and use it for the next recipients, in every worker process.

The content key names the file's content: ``sha256:<hex>`` of a local file's bytes (so an
edited file at the same path is a new upload), ``url:<sha256 of the URL>`` for a link.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os

from store.clock import utcnow
from store.db import database_proxy
from store.models import MediaUpload

CHUNK = 1 << 20
_hashes: dict[tuple[str, int, int], str] = {}  # (path, mtime_ns, size) -> key: hash a file once


def key_of_file(path: str) -> str:
    """The content key of a local file (its bytes' SHA-256; remembered per path, mtime, size).
    ``OSError`` when it cannot be read."""
    stat = os.stat(path)
    memo = (os.path.abspath(path), stat.st_mtime_ns, stat.st_size)
    known = _hashes.get(memo)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    key = f"sha256:{digest.hexdigest()}"
    if len(_hashes) > 1024:  # a few campaign files at a time; never grow without bound
        _hashes.clear()
    _hashes[memo] = key
    return key


def key_of_url(url: str) -> str:
    return f"url:{hashlib.sha256(url.encode('utf-8', 'surrogatepass')).hexdigest()}"


def known_file_id(bot: str, content_key: str, max_age: dt.timedelta | None = None) -> str | None:
    """The id ``bot`` got for ``content_key``, if recorded (and younger than ``max_age``)."""
    query = MediaUpload.select(MediaUpload.file_id).where(
        (MediaUpload.bot == bot) & (MediaUpload.content_key == content_key)
    )
    if max_age is not None:
        query = query.where(MediaUpload.created_at > utcnow() - max_age)
    value = query.scalar()
    return str(value) if value else None


def remember_file_id(bot: str, content_key: str, file_id: str) -> None:
    """Record (or replace) the id ``bot`` got for ``content_key``."""
    now = utcnow()
    with database_proxy.atomic():
        (
            MediaUpload.insert(bot=bot, content_key=content_key, file_id=file_id, created_at=now)
            .on_conflict(
                conflict_target=[MediaUpload.bot, MediaUpload.content_key],
                update={MediaUpload.file_id: file_id, MediaUpload.created_at: now},
            )
            .execute()
        )


def forget_file_id(bot: str, content_key: str, file_id: str) -> None:
    """Drop a recorded id the platform no longer accepts (only that id: another process may
    have recorded a fresh one meanwhile)."""
    MediaUpload.delete().where(
        (MediaUpload.bot == bot)
        & (MediaUpload.content_key == content_key)
        & (MediaUpload.file_id == file_id)
    ).execute()
