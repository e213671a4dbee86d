"""The emulator's files: what bots upload or send by URL, and what scripted users send.

Each file gets a ``file_id`` (usable by the same bot only, as on Telegram) and a
``file_path`` that ``GET /file/bot<token>/<file_path>`` downloads. A file sent by URL is
fetched (10 s timeout; failure -> 400 ``failed to get HTTP URL content``) unless
``fetch_urls`` is off, then it is stored empty.
"""

from __future__ import annotations

import itertools
import secrets

import aiohttp

from emulators.telegram.model import BotState, StoredFile, bad_request
from emulators.telegram.params import Params, Upload

EXTENSIONS = {"photo": "jpg", "video": "mp4", "document": "bin"}
FOLDERS = {
    "photo": "photos",
    "video": "videos",
    "document": "documents",
    "profile": "profile_photos",
}


class FileStore:
    def __init__(self, fetch_urls: bool = True) -> None:
        self.fetch_urls = fetch_urls
        self._numbers = itertools.count(1)
        self._fetch: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._fetch is not None:
            await self._fetch.close()
            self._fetch = None

    def add(
        self,
        bot: BotState,
        data: bytes,
        kind: str = "document",
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        """Store a file for ``bot`` (``kind``: photo, document, profile)."""
        number = next(self._numbers)
        ext = file_name.rpartition(".")[2] if file_name and "." in file_name else None
        folder = FOLDERS.get(kind, "documents")
        path = f"{folder}/file_{number}.{ext or EXTENSIONS.get(kind, 'jpg')}"
        file = StoredFile(
            file_id=f"{'AgAC' if kind != 'document' else 'BQAC'}{secrets.token_urlsafe(24)}",
            file_unique_id=f"AQAD{number:08d}",
            data=data,
            file_path=path,
            file_name=file_name,
            mime_type=mime_type,
        )
        bot.files[file.file_id] = file
        bot.file_paths[path] = file
        return file

    async def input_file(self, bot: BotState, params: Params, kind: str) -> tuple[StoredFile, str]:
        """The file a send names, and how: an ``upload`` (a form field, or
        ``attach://<field>``), a ``url`` or a ``file_id``."""
        if kind in params.files:
            return self._uploaded(bot, params.files[kind], kind), "upload"
        ref = params.required_str(kind)
        if ref.startswith("attach://"):
            upload = params.files.get(ref.removeprefix("attach://"))
            if upload is None:
                raise bad_request(f"wrong {kind} file: attach:// field is missing")
            return self._uploaded(bot, upload, kind), "upload"
        if ref.startswith(("http://", "https://")):
            data = await self._download(ref) if self.fetch_urls else b""
            name = ref.split("?", 1)[0].rstrip("/").rpartition("/")[2] or None
            return self.add(bot, data, kind, file_name=name), "url"
        known = bot.files.get(ref)
        if known is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return known, "file_id"

    def _uploaded(self, bot: BotState, upload: Upload, kind: str) -> StoredFile:
        if not upload.data:
            raise bad_request("file must be non-empty")
        mime = upload.content_type if upload.content_type != "application/octet-stream" else None
        return self.add(bot, upload.data, kind, file_name=upload.file_name, mime_type=mime)

    async def _download(self, url: str) -> bytes:
        if self._fetch is None:
            self._fetch = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            async with self._fetch.get(url) as response:
                if response.status != 200:
                    raise bad_request("failed to get HTTP URL content")
                return await response.read()
        except (aiohttp.ClientError, TimeoutError):
            raise bad_request("failed to get HTTP URL content") from None
