"""An operator's Telegram reply to a notification, written to the client through the outbox.

The notification's ``AdminNotice`` row says which client it was about. The text (or a
photo's or document's caption) becomes an outbound ``Message`` (author ``operator``) in the
durable outbox; a photo or document, already downloaded from the admin bot by the caller, is
kept under ``files_dir`` and attached by path, since the admin bot's file ids mean nothing to
the client's bot.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from pathlib import Path
from typing import Any

from commands.admin.assignment import client_for
from commands.admin.context import CommandContext, CommandError
from commands.admin.reply import Reply
from store.clock import utcnow
from store.models import AdminNotice, AuditLog

NOTICE_TTL = dt.timedelta(days=30)  # notifications older than this can no longer be replied to


def notice_client(chat_id: int, message_id: int) -> int | None:
    """The client the admin bot's message ``message_id`` in ``chat_id`` notified about."""
    row = (
        AdminNotice.select(AdminNotice.client)
        .where(
            (AdminNotice.chat_id == chat_id)
            & (AdminNotice.message_id == message_id)
            & AdminNotice.client.is_null(False)
        )
        .order_by(AdminNotice.id.desc())
        .first()
    )
    return row.client_id if row is not None else None


def remember_notice(operator_id: int, chat_id: int, message_id: int, client_id: int) -> None:
    """Record that the admin bot's message ``message_id`` in ``chat_id`` is about a client."""
    if notice_client(chat_id, message_id) == client_id:
        return
    AdminNotice.create(
        operator=operator_id, chat_id=chat_id, message_id=message_id, client=client_id
    )


def forget_old_notices(now: dt.datetime | None = None) -> int:
    """Drop client notifications older than ``NOTICE_TTL``; returns how many."""
    cutoff = (now or utcnow()) - NOTICE_TTL
    return int(
        AdminNotice.delete()
        .where(AdminNotice.client.is_null(False) & (AdminNotice.created_at < cutoff))
        .execute()
    )


def safe_name(name: str | None, default: str) -> str:
    """A file name without directories or odd characters, at most 100 characters."""
    base = Path(name or "").name
    cleaned = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")[:100]
    return cleaned or default


def store_file(files_dir: str, file_name: str, content: bytes) -> str:
    """Write ``content`` under ``files_dir/<random>/<file_name>``; returns the absolute path."""
    folder = Path(files_dir).resolve() / secrets.token_hex(8)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    path.write_bytes(content)
    return str(path)


def send_to_client(
    ctx: CommandContext, client_id: int, text: str, attachments: list[dict[str, Any]]
) -> Reply:
    """Queue ``text`` and ``attachments`` for the client (within the operator's scope); the
    same checks and effects as /reply (``commands.admin.messaging.send_reply``)."""
    from commands.admin.messaging import send_reply

    client = client_for(ctx, str(client_id))
    if not text.strip() and not attachments:
        raise CommandError("Nothing to send: write a text, or send a photo or a document.")
    message = send_reply(ctx, client, text, attachments)
    AuditLog.create(
        operator=ctx.operator.id,
        action="reply",
        filter_text=f"client {client.id}",
        count=1,
        detail={"message": message.id, "attachments": len(attachments)},
    )
    what = "Message" if not attachments else f"Message with {len(attachments)} file(s)"
    return Reply(f"{what} queued for {client.name} (#{client.id}).")
