"""The fields of a Bot API update's JSON, read defensively: shared by the parsers of the
ordinary kinds (``bots.telegram.updates``) and of the business kinds (``bots.telegram.business``).

A required field of the wrong type raises ``UpdateError`` naming it (``message.chat.id must be
an integer``); an optional one of the wrong type reads as absent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from store.inbound import Attachment
from store.sanitize import from_epoch

FILE_KINDS = ("document", "audio", "video", "voice", "video_note", "animation", "sticker")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class UpdateError(ValueError):
    """The JSON is not a Bot API update (missing ``update_id``, wrong types)."""


def json_object(data: Any, where: str) -> dict[str, Any]:
    """``data`` itself when it is an object; ``where`` names it in the error."""
    if not isinstance(data, dict):
        raise UpdateError(f"{where} must be an object")
    return data


def int_field(data: dict[str, Any], key: str, where: str) -> int:
    """An id of the Bot API: an integer in the signed 64-bit range (Telegram's own bound)."""
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise UpdateError(f"{where}.{key} must be an integer")
    if not INT64_MIN <= value <= INT64_MAX:
        raise UpdateError(f"{where}.{key} is out of the 64-bit range")
    return value


def str_field(data: dict[str, Any], key: str) -> str | None:
    """An optional text field: None when absent or not a string."""
    value = data.get(key)
    return value if isinstance(value, str) else None


def person_name(user: dict[str, Any]) -> str | None:
    """First and last name of a user (or a private chat), None when it has neither."""
    parts = [p for p in (str_field(user, "first_name"), str_field(user, "last_name")) if p]
    return " ".join(parts) or None


def date_of(data: dict[str, Any]) -> dt.datetime | None:
    """``date`` (epoch seconds) as naive UTC; ``store.sanitize`` replaces odd ones."""
    date = data.get("date")
    return from_epoch(date) if isinstance(date, int) else None


def attachments_of(message: dict[str, Any]) -> tuple[Attachment, ...]:
    """Metadata of the files (and locations, contacts) a message carries."""
    found: list[Attachment] = []
    photo = message.get("photo")
    if isinstance(photo, list) and photo and isinstance(photo[-1], dict):
        largest = photo[-1]  # Telegram lists the sizes smallest first
        found.append(
            Attachment(
                "photo",
                file_id=str_field(largest, "file_id"),
                size=largest.get("file_size")
                if isinstance(largest.get("file_size"), int)
                else None,
                mime_type="image/jpeg",
            )
        )
    for kind in FILE_KINDS:
        item = message.get(kind)
        if isinstance(item, dict):
            size = item.get("file_size")
            found.append(
                Attachment(
                    kind,
                    file_id=str_field(item, "file_id"),
                    file_name=str_field(item, "file_name"),
                    mime_type=str_field(item, "mime_type"),
                    size=size if isinstance(size, int) and not isinstance(size, bool) else None,
                )
            )
    location = message.get("location")
    if isinstance(location, dict):
        found.append(
            Attachment("location", extra={k: location.get(k) for k in ("latitude", "longitude")})
        )
    contact = message.get("contact")
    if isinstance(contact, dict):
        keep = ("phone_number", "first_name", "last_name", "user_id")
        found.append(Attachment("contact", extra={k: contact[k] for k in keep if k in contact}))
    return tuple(found)


def chat_client(chat: dict[str, Any], sender: dict[str, Any] | None) -> dict[str, Any]:
    """The client fields of a chat: a private chat is its user, a group its title."""
    if chat.get("type", "private") == "private":
        person = sender or chat
        return {
            "name": person_name(person) or person_name(chat),
            "username": str_field(person, "username") or str_field(chat, "username"),
            "language": str_field(person, "language_code"),
        }
    return {
        "name": str_field(chat, "title"),
        "username": str_field(chat, "username"),
        "language": None,
    }
