"""Telegram Business updates (a bot with ``business: true``): the owner's chats via the bot.

``business_connection`` -> ``ConnectionInfo`` (stored by the ingest: owner, can_reply,
enabled); ``business_message`` / ``edited_business_message`` -> a message of the client the
owner talks to (messenger id ``biz:<connection id>:<chat id>``, ``store.business``), or, when
the owner wrote it, the owner's outgoing message; ``deleted_business_messages`` -> a service
event in that dialog and the deleted messages' platform ids (``ParsedUpdate.deleted_ids``).
"""

from __future__ import annotations

from typing import Any

from bots.telegram.fields import (
    UpdateError,
    attachments_of,
    chat_client,
    date_of,
    int_field,
    json_object,
    person_name,
    str_field,
)
from bots.telegram.service import service_of
from bots.telegram.updates import ParsedUpdate, update_id_of
from store.business import ConnectionInfo, business_key
from store.inbound import InboundMessage


def parse_business(bot_name: str, data: dict[str, Any]) -> ParsedUpdate | None:
    """What to store for a business message or deletion; None for any other kind."""
    update_id = update_id_of(data)
    for key in ("business_message", "edited_business_message"):
        if key in data:
            message = json_object(data[key], key)
            text = str_field(message, "text") or str_field(message, "caption") or ""
            extra: dict[str, Any] = {"update_id": update_id}
            if key.startswith("edited_"):
                extra["edited"] = True
            return _business(bot_name, update_id, key, message, text, extra)
    if "deleted_business_messages" in data:
        return _deleted(bot_name, update_id, data)
    return None


def _business(
    bot_name: str,
    update_id: int,
    key: str,
    message: dict[str, Any],
    text: str,
    extra: dict[str, Any],
) -> ParsedUpdate:
    """A message in a business account's private chat: the client is the person the owner
    talks to; a message the owner wrote there is theirs (``operator``, outgoing, unread
    untouched)."""
    connection_id = str_field(message, "business_connection_id")
    if not connection_id:
        raise UpdateError(f"{key}.business_connection_id must be a string")
    chat = json_object(message.get("chat"), f"{key}.chat")
    chat_id = int_field(chat, "id", f"{key}.chat")
    sender = message.get("from") if isinstance(message.get("from"), dict) else None
    by_owner = sender is not None and sender.get("id") != chat_id
    extra = {**extra, "business_connection_id": connection_id}
    if by_owner:
        extra["business_owner"] = True
    message_id = message.get("message_id")
    service = service_of(message)
    if service is not None:
        text, extra = service[1], {**extra, **service[2]}
    event = InboundMessage(
        bot_name=bot_name,
        messenger_id=business_key(connection_id, chat_id),
        dedup_key=f"tg:update:{update_id}",
        text=text,
        attachments=() if service else attachments_of(message),
        platform_message_id=str(message_id) if isinstance(message_id, int) else None,
        sent_at=date_of(message),
        extra=extra,
        author_kind="system" if service else "operator" if by_owner else "client",
        direction="out" if by_owner and not service else "in",
        mark_unread=not (service or by_owner),
        **chat_client(chat, None),  # the chat is the client, whoever wrote
    )
    return ParsedUpdate(update_id, event)


def _deleted(bot_name: str, update_id: int, data: dict[str, Any]) -> ParsedUpdate:
    deleted = json_object(data["deleted_business_messages"], "deleted_business_messages")
    connection_id = str_field(deleted, "business_connection_id")
    if not connection_id:
        raise UpdateError("deleted_business_messages.business_connection_id must be a string")
    chat = json_object(deleted.get("chat"), "deleted_business_messages.chat")
    chat_id = int_field(chat, "id", "deleted_business_messages.chat")
    raw_ids = deleted.get("message_ids")
    ids = [i for i in raw_ids if isinstance(i, int)] if isinstance(raw_ids, list) else []
    count = f"{len(ids)} message{'s' if len(ids) != 1 else ''}"
    event = InboundMessage(
        bot_name=bot_name,
        messenger_id=business_key(connection_id, chat_id),
        dedup_key=f"tg:update:{update_id}",
        text=f"deleted {count}",
        author_kind="system",
        extra={
            "update_id": update_id,
            "service": "deleted_business_messages",
            "business_connection_id": connection_id,
            "message_ids": ids,
        },
        mark_unread=False,
        **chat_client(chat, None),
    )
    return ParsedUpdate(update_id, event, deleted_ids=tuple(str(i) for i in ids))


def parse_connection(data: dict[str, Any]) -> ConnectionInfo | None:
    """The ``business_connection`` of update ``data``, None for any other kind.

    ``can_reply`` is ``rights.can_reply`` (Bot API 9.0 on) or the older top-level field.
    """
    if "business_connection" not in data:
        return None
    connection = json_object(data["business_connection"], "business_connection")
    connection_id = str_field(connection, "id")
    if not connection_id:
        raise UpdateError("business_connection.id must be a string")
    owner = json_object(connection.get("user"), "business_connection.user")
    owner_id = int_field(owner, "id", "business_connection.user")
    raw_rights = connection.get("rights")
    rights: dict[str, Any] = raw_rights if isinstance(raw_rights, dict) else {}
    can_reply = rights.get("can_reply") if rights else connection.get("can_reply")
    chat_id = connection.get("user_chat_id")
    return ConnectionInfo(
        connection_id=connection_id,
        owner_user_id=owner_id,
        owner_name=person_name(owner) or str(owner_id),
        owner_username=str_field(owner, "username"),
        user_chat_id=chat_id if isinstance(chat_id, int) else None,
        can_reply=can_reply is True,
        enabled=connection.get("is_enabled") is not False,
        rights=rights,
    )
