"""Telegram Business: the connections of a bot and the clients that write through them.

A client of a business chat is keyed ``biz:<connection id>:<chat id>`` (``business_key``):
the same person may also write to the bot directly (messenger id ``<chat id>``), and those
are two dialogs — one with the shop's bot, one with the owner's own account.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from store.clock import utcnow
from store.db import write_transaction
from store.errors import NotFound
from store.models import Bot, BusinessConnection, Message

PREFIX = "biz:"


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """One ``business_connection`` update as the store keeps it."""

    connection_id: str
    owner_user_id: int
    owner_name: str = ""
    owner_username: str | None = None
    user_chat_id: int | None = None
    can_reply: bool = False
    enabled: bool = True
    rights: dict[str, Any] = field(default_factory=dict)


def business_key(connection_id: str, chat_id: int | str) -> str:
    """The messenger id of the client in chat ``chat_id`` of business connection
    ``connection_id``."""
    return f"{PREFIX}{connection_id}:{chat_id}"


def split_business_key(messenger_id: str) -> tuple[str, str] | None:
    """``(connection id, chat id)`` of a business client's messenger id, else None."""
    if not messenger_id.startswith(PREFIX):
        return None
    connection_id, sep, chat_id = messenger_id[len(PREFIX) :].rpartition(":")
    if not sep or not connection_id or not chat_id:
        return None
    return connection_id, chat_id


def save_connection(bot_name: str, info: ConnectionInfo, now: dt.datetime | None = None) -> None:
    """Insert or update the connection (the owner changed rights, disabled or enabled the
    bot). Raises ``NotFound`` when the bot is unknown."""
    now = now or utcnow()
    bot = Bot.get_or_none(Bot.name == bot_name)
    if bot is None:
        raise NotFound(f"unknown bot {bot_name!r}")
    values = {
        BusinessConnection.owner_user_id: info.owner_user_id,
        BusinessConnection.owner_name: info.owner_name,
        BusinessConnection.owner_username: info.owner_username,
        BusinessConnection.user_chat_id: info.user_chat_id,
        BusinessConnection.can_reply: info.can_reply,
        BusinessConnection.enabled: info.enabled,
        BusinessConnection.rights: info.rights,
        BusinessConnection.updated_at: now,
    }
    with write_transaction():
        (
            BusinessConnection.insert(
                {
                    **values,
                    BusinessConnection.bot: bot.id,
                    BusinessConnection.connection_id: info.connection_id,
                    BusinessConnection.created_at: now,
                }
            )
            .on_conflict(
                conflict_target=[BusinessConnection.bot, BusinessConnection.connection_id],
                update=values,
            )
            .execute()
        )


def connection_of(bot_name: str, connection_id: str) -> BusinessConnection | None:
    """The stored connection, None when no ``business_connection`` update was seen for it."""
    return (
        BusinessConnection.select()
        .join(Bot, on=(BusinessConnection.bot == Bot.id))
        .where((Bot.name == bot_name) & (BusinessConnection.connection_id == connection_id))
        .first()
    )


def connection_of_client(bot_id: int, messenger_id: str) -> BusinessConnection | None:
    """The connection a business client writes through (None: not a business chat, or the
    connection is not stored)."""
    parts = split_business_key(messenger_id)
    if parts is None:
        return None
    return BusinessConnection.get_or_none(
        (BusinessConnection.bot == bot_id) & (BusinessConnection.connection_id == parts[0])
    )


def mark_deleted(client_id: int, platform_ids: list[str]) -> int:
    """Mark the client's messages with these platform ids deleted (``extra["deleted"]``):
    the dialog keeps them, struck through. Returns how many were marked."""
    marked = 0
    with write_transaction():
        rows = Message.select(Message.id, Message.extra).where(
            (Message.client == client_id) & Message.platform_message_id.in_(platform_ids)
        )
        for row in list(rows):
            if (row.extra or {}).get("deleted"):
                continue
            extra = {**(row.extra or {}), "deleted": True}
            Message.update(extra=extra).where(Message.id == row.id).execute()
            marked += 1
    return marked
