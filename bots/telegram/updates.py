"""A Bot API update (the JSON object) -> the store's ``InboundMessage``.

Used kinds: ``message`` and ``edited_message`` (text or caption, attachment metadata, a
``/start <payload>`` deep link kept as the variable ``start_payload``), ``callback_query``
(a button press, stored with its ``callback_data`` as the text), ``my_chat_member``
(the user blocked the bot -> unsubscribed; unblocked -> subscribed again; stored as a system
event), service messages and ``message_reaction`` (service events that leave the client read,
``bots.telegram.service``) and ``chat_join_request`` (a service event an operator answers).
Every other kind is ``None``: acknowledged and ignored, so Telegram does not redeliver.

The client is the chat the bot answers in (for a private chat the user). The dedup key is
``tg:update:<update_id>``, unique per bot: a redelivered update stores nothing twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bots.telegram.fields import (
    attachments_of,
    chat_client,
    date_of,
    int_field,
    json_object,
    str_field,
)
from bots.telegram.service import JOIN_KEY, reaction_text, service_of
from store.inbound import InboundMessage

START = re.compile(r"^/start(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)
UNSUBSCRIBED = frozenset({"kicked", "left"})
USED_KINDS = [
    "message",
    "edited_message",
    "callback_query",
    "my_chat_member",
    "message_reaction",
    "chat_join_request",
]
# Telegram Business (a bot with ``business: true``): the owner's chats through the bot
BUSINESS_KINDS = [
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
]


def used_kinds(business: bool) -> list[str]:
    """The ``allowed_updates`` of a bot: the business kinds only when it serves them."""
    return USED_KINDS + BUSINESS_KINDS if business else list(USED_KINDS)


@dataclass(frozen=True, slots=True)
class ParsedUpdate:
    """What to store for one update, and what to do after storing it."""

    update_id: int
    event: InboundMessage
    callback_query_id: str | None = None  # to answer, so the button stops spinning
    user_id: int | None = None  # a private chat's user: their avatar can be fetched
    deleted_ids: tuple[str, ...] = ()  # platform ids of the client's messages now deleted


def _message(bot_name: str, update_id: int, key: str, data: dict[str, Any]) -> ParsedUpdate:
    message = json_object(data[key], key)
    chat = json_object(message.get("chat"), f"{key}.chat")
    chat_id = int_field(chat, "id", f"{key}.chat")
    sender = message.get("from") if isinstance(message.get("from"), dict) else None
    text = str_field(message, "text") or str_field(message, "caption") or ""
    variables: dict[str, str] = {}
    if key == "message" and (match := START.match(text)) and match.group(1):
        variables["start_payload"] = match.group(1).strip()
    extra: dict[str, Any] = {"update_id": update_id}
    if key == "edited_message":
        extra["edited"] = True
    if chat.get("type", "private") != "private" and sender is not None:
        extra["from"] = {
            k: sender[k] for k in ("id", "first_name", "last_name", "username") if k in sender
        }
    message_id = message.get("message_id")
    service = service_of(message)
    if service is not None:  # a pin, a member joining, a payment...: not the client talking
        text, extra = service[1], {**extra, **service[2]}
    event = InboundMessage(
        bot_name=bot_name,
        messenger_id=str(chat_id),
        dedup_key=f"tg:update:{update_id}",
        text=text,
        attachments=() if service else attachments_of(message),
        platform_message_id=str(message_id) if isinstance(message_id, int) else None,
        sent_at=date_of(message),
        extra=extra,
        variables=variables,
        author_kind="system" if service else "client",
        mark_unread=service is None,
        **chat_client(chat, sender),
    )
    private = chat.get("type", "private") == "private"
    return ParsedUpdate(update_id, event, user_id=chat_id if private and chat_id > 0 else None)


def _callback(bot_name: str, update_id: int, data: dict[str, Any]) -> ParsedUpdate:
    query = json_object(data["callback_query"], "callback_query")
    sender = json_object(query.get("from"), "callback_query.from")
    user_id = int_field(sender, "id", "callback_query.from")
    raw_message = query.get("message")
    message: dict[str, Any] = raw_message if isinstance(raw_message, dict) else {}
    raw_chat = message.get("chat")
    chat: dict[str, Any] = raw_chat if isinstance(raw_chat, dict) else {"id": user_id}
    chat_id = int_field(chat, "id", "callback_query.message.chat")
    callback_data = str_field(query, "data") or ""
    extra: dict[str, Any] = {"update_id": update_id, "callback_data": callback_data}
    if isinstance(message.get("message_id"), int):
        extra["message_id"] = message["message_id"]
    event = InboundMessage(
        bot_name=bot_name,
        messenger_id=str(chat_id),
        dedup_key=f"tg:update:{update_id}",
        text=callback_data,
        extra=extra,
        **chat_client({**chat, "type": chat.get("type", "private")}, sender),
    )
    private = chat.get("type", "private") == "private"
    query_id = str_field(query, "id")
    return ParsedUpdate(update_id, event, query_id, user_id if private else None)


def _member(bot_name: str, update_id: int, data: dict[str, Any]) -> ParsedUpdate:
    change = json_object(data["my_chat_member"], "my_chat_member")
    chat = json_object(change.get("chat"), "my_chat_member.chat")
    chat_id = int_field(chat, "id", "my_chat_member.chat")
    new = json_object(change.get("new_chat_member"), "my_chat_member.new_chat_member")
    status = str_field(new, "status") or ""
    gone = status in UNSUBSCRIBED
    sender = change.get("from") if isinstance(change.get("from"), dict) else None
    event = InboundMessage(
        bot_name=bot_name,
        messenger_id=str(chat_id),
        dedup_key=f"tg:update:{update_id}",
        text="blocked the bot" if gone else "unblocked the bot",
        sent_at=date_of(change),
        author_kind="system",
        extra={
            "update_id": update_id,
            "event": "blocked" if gone else "unblocked",
            "status": status,
        },
        mark_unread=False,
        unsubscribed=gone,
        **chat_client(chat, sender),
    )
    return ParsedUpdate(update_id, event)


def _reaction(bot_name: str, update_id: int, data: dict[str, Any]) -> ParsedUpdate:
    change = json_object(data["message_reaction"], "message_reaction")
    chat = json_object(change.get("chat"), "message_reaction.chat")
    chat_id = int_field(chat, "id", "message_reaction.chat")
    sender = change.get("user") if isinstance(change.get("user"), dict) else None
    message_id = change.get("message_id")
    reaction = {
        "message_id": message_id,
        "old": change.get("old_reaction") or [],
        "new": change.get("new_reaction") or [],
    }
    if chat.get("type", "private") != "private" and sender is not None:
        reaction["from"] = {k: sender[k] for k in ("id", "first_name", "username") if k in sender}
    event = InboundMessage(
        bot_name=bot_name,
        messenger_id=str(chat_id),
        dedup_key=f"tg:update:{update_id}",
        text=reaction_text(reaction["old"], reaction["new"]),
        sent_at=date_of(change),
        author_kind="system",
        extra={"update_id": update_id, "service": "message_reaction", "reaction": reaction},
        mark_unread=False,
        **chat_client(chat, sender),
    )
    return ParsedUpdate(update_id, event)


def _join_request(bot_name: str, update_id: int, data: dict[str, Any]) -> ParsedUpdate:
    """The user asking to join a group or channel, as an event of their private chat with
    the bot (``user_chat_id``): an operator approves or declines it from the admin bot."""
    request = json_object(data["chat_join_request"], "chat_join_request")
    chat = json_object(request.get("chat"), "chat_join_request.chat")
    chat_id = int_field(chat, "id", "chat_join_request.chat")
    sender = json_object(request.get("from"), "chat_join_request.from")
    user_id = int_field(sender, "id", "chat_join_request.from")
    user_chat_id = request.get("user_chat_id")
    private = user_chat_id if isinstance(user_chat_id, int) else user_id
    title = str_field(chat, "title") or str_field(chat, "username") or str(chat_id)
    join = {"chat_id": chat_id, "chat_title": title, "user_id": user_id}
    extra: dict[str, Any] = {
        "update_id": update_id,
        "service": "chat_join_request",
        "join_request": join,
    }
    for key in ("bio", "invite_link"):
        if key in request:
            extra[key] = request[key]
    event = InboundMessage(
        bot_name=bot_name,
        messenger_id=str(private),
        dedup_key=f"{JOIN_KEY}{update_id}",
        text=f"asks to join «{title}»",
        sent_at=date_of(request),
        author_kind="system",
        extra=extra,
        **chat_client({"id": private, "type": "private"}, sender),
    )
    return ParsedUpdate(update_id, event, user_id=private if private > 0 else None)


def update_id_of(data: Any) -> int:
    """The ``update_id`` of ``data``; ``UpdateError`` when ``data`` is not an update at all
    (then the request is refused; an update of the wrong shape inside is an unusable item)."""
    return int_field(json_object(data, "update"), "update_id", "update")


def parse_update(bot_name: str, data: dict[str, Any]) -> ParsedUpdate | None:
    """What to store for update ``data`` of bot ``bot_name``; None for a kind we don't use
    (the Telegram Business kinds are ``bots.telegram.business``'s).

    Raises ``UpdateError`` with a one-line reason (starting with the field, e.g.
    ``message.chat.id must be an integer``) when ``data`` is not an update we can use.
    """
    update_id = update_id_of(data)
    if "message" in data or "edited_message" in data:
        return _message(
            bot_name, update_id, "message" if "message" in data else "edited_message", data
        )
    if "callback_query" in data:
        return _callback(bot_name, update_id, data)
    if "my_chat_member" in data:
        return _member(bot_name, update_id, data)
    if "message_reaction" in data:
        return _reaction(bot_name, update_id, data)
    if "chat_join_request" in data:
        return _join_request(bot_name, update_id, data)
    return None
