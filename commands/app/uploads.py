"""Photos and documents an operator attaches in the Mini App: checked, kept, sent by path.

A file is checked before anything is written: its size against the client's messenger's limit
for the kind (the platforms' own: Telegram bots upload photos up to 10 MB and documents up to
50 MB, WhatsApp Cloud API takes images up to 5 MB and documents up to 100 MB), and its type
from its first bytes, not from what the phone claims: a photo is JPEG or PNG (what both
Telegram's sendPhoto and WhatsApp's image messages take), a document one of ``DOCUMENT_TYPES``.
A good file is kept under ``admin_bot.files_dir`` like a file an operator sends the admin bot
(``commands.admin.forward.store_file``) and goes out through the outbox by path; when the
message is refused after all (a blocked client), the kept files are removed again.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from commands.admin.assignment import client_for
from commands.admin.context import CommandContext, CommandError
from commands.admin.forward import safe_name, send_to_client, store_file
from store.models import Bot

MB: Final = 1024 * 1024
# Bytes a file may have, by messenger and kind (the platforms' upload limits).
SIZE_LIMITS: Final[dict[str, dict[str, int]]] = {
    "telegram": {"photo": 10 * MB, "document": 50 * MB},
    "whatsapp": {"photo": 5 * MB, "document": 100 * MB},
    "email": {"photo": 10 * MB, "document": 25 * MB},  # what common mail servers accept
}
UPLOAD_CEILING: Final = max(n for limits in SIZE_LIMITS.values() for n in limits.values())
FILES_PER_MESSAGE: Final = 10

PHOTO_TYPES: Final = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",)}
ZIP: Final = (b"PK\x03\x04",)
OLE: Final = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)  # legacy Office files
# Documents by extension: (MIME type, the magic numbers it starts with; () = UTF-8 text).
DOCUMENT_TYPES: Final[dict[str, tuple[str, tuple[bytes, ...]]]] = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "txt": ("text/plain", ()),
    "csv": ("text/csv", ()),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ZIP),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ZIP),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", ZIP),
    "odt": ("application/vnd.oasis.opendocument.text", ZIP),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", ZIP),
    "zip": ("application/zip", ZIP),
    "doc": ("application/msword", OLE),
    "xls": ("application/vnd.ms-excel", OLE),
    "ppt": ("application/vnd.ms-powerpoint", OLE),
    "jpg": ("image/jpeg", PHOTO_TYPES["image/jpeg"]),
    "jpeg": ("image/jpeg", PHOTO_TYPES["image/jpeg"]),
    "png": ("image/png", PHOTO_TYPES["image/png"]),
}


class UploadRefused(CommandError):
    """A file that cannot be sent; ``status``: 413 too big, 415 wrong type, 400 otherwise."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Upload:
    """One file as the phone sent it: ``kind`` ``photo`` or ``document``."""

    kind: str
    file_name: str
    content: bytes


def size_text(size: int) -> str:
    return f"{size / MB:.1f} MB" if size >= MB / 10 else f"{size} bytes"


def check(upload: Upload, messenger: str) -> dict[str, Any]:
    """The outbox attachment (without its path) for a good file; ``UploadRefused`` naming
    what is wrong, in one line, for a bad one."""
    if upload.kind not in ("photo", "document"):
        raise UploadRefused(f"{upload.kind!r}: attach a photo or a document.")
    name = safe_name(upload.file_name, upload.kind)
    size = len(upload.content)
    if size == 0:
        raise UploadRefused(f"{name} is empty.")
    limit = SIZE_LIMITS.get(messenger, SIZE_LIMITS["email"])[upload.kind]
    if size > limit:
        raise UploadRefused(
            f"{name} has {size_text(size)}; a {upload.kind} to {messenger} may have at most "
            f"{size_text(limit)}.",
            413,
        )
    if upload.kind == "photo":
        mime = next(
            (t for t, magic in PHOTO_TYPES.items() if upload.content.startswith(magic)), None
        )
        if mime is None:
            raise UploadRefused(
                f"{name} is not a JPEG or PNG picture: send it as a document instead.", 415
            )
        return {"kind": "photo", "file_name": name, "mime_type": mime}
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    known = DOCUMENT_TYPES.get(extension)
    if known is None:
        kinds = ", ".join(sorted(DOCUMENT_TYPES))
        raise UploadRefused(f"{name}: files of this type cannot be sent; send {kinds}.", 415)
    mime, magics = known
    if not _looks_like(upload.content, magics):
        raise UploadRefused(f"{name} is not the .{extension} file its name says.", 415)
    return {"kind": "document", "file_name": name, "mime_type": mime}


def _looks_like(content: bytes, magics: tuple[bytes, ...]) -> bool:
    if magics:
        return content.startswith(magics)
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in content


def send_with_files(
    ctx: CommandContext,
    client_id: int,
    text: str,
    uploads: Sequence[Upload],
    files_dir: str,
) -> str:
    """Check every file, keep them, queue the message (the admin bot's reply path,
    ``send_to_client``); returns its one-line outcome. Nothing is kept when anything fails."""
    client = client_for(ctx, str(client_id))  # out of scope: refused before any file is kept
    messenger = Bot.get_by_id(client.bot_id).kind
    if len(uploads) > FILES_PER_MESSAGE:
        raise UploadRefused(f"{len(uploads)} files; at most {FILES_PER_MESSAGE} per message.")
    checked = [(upload, check(upload, messenger)) for upload in uploads]
    kept: list[str] = []
    try:
        attachments = []
        for upload, attachment in checked:
            path = store_file(files_dir, attachment["file_name"], upload.content)
            kept.append(path)
            attachments.append({**attachment, "path": path})
        return send_to_client(ctx, client_id, text, attachments).text
    except BaseException:
        for path in kept:  # each file has a folder of its own (store_file)
            shutil.rmtree(Path(path).parent, ignore_errors=True)
        raise
