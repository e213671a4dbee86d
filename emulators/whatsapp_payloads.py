"""Cloud API webhook payloads, shaped as in Meta's documentation (messages and statuses).

Builders for the emulator, the tests and the demo. ``inbound(...)`` gives the ``messages``
entry of one message of any type; ``envelope(...)`` wraps messages and statuses into the body
Meta posts (``object``, ``entry[].changes[].value`` with ``metadata`` and ``contacts``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

_ids = itertools.count(1)


def new_wamid(prefix: str = "HBgL") -> str:
    """A fresh, unique message id in Meta's ``wamid.`` form."""
    return f"wamid.{prefix}{time.time_ns():x}{next(_ids):06d}"


def _ts(timestamp: int | None) -> str:
    return str(int(time.time()) if timestamp is None else timestamp)


def inbound(
    kind: str,
    body: dict[str, Any] | list[dict[str, Any]] | None = None,
    *,
    sender: str | None,
    wamid: str | None = None,
    timestamp: int | None = None,
    context_id: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One entry of ``value.messages``: ``{"from", "id", "timestamp", "type", kind: body}``;
    ``sender=None`` leaves ``from`` out, as for a user known only by their BSUID (who is then
    named by the ``contacts`` of the envelope: ``people=[contact(user_id=...)]``)."""
    message: dict[str, Any] = {
        "id": wamid or new_wamid(),
        "timestamp": _ts(timestamp),
        "type": kind,
    }
    if sender is not None:
        message["from"] = sender
    if body is not None:
        message[kind] = body
    if context_id:
        message["context"] = {"from": sender, "id": context_id}
    if errors:
        message["errors"] = errors
    return message


def text(sender: str | None, body: str, **kw: Any) -> dict[str, Any]:
    return inbound("text", {"body": body}, sender=sender, **kw)


def media(
    kind: str,
    sender: str,
    media_id: str,
    *,
    mime_type: str,
    caption: str | None = None,
    filename: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """image / video / document / audio / sticker with ``id``, ``mime_type``, ``sha256``."""
    body: dict[str, Any] = {"id": media_id, "mime_type": mime_type, "sha256": "c2hhMjU2"}
    if caption is not None:
        body["caption"] = caption
    if filename is not None:
        body["filename"] = filename
    if kind == "audio":
        body["voice"] = kw.pop("voice", False)
    if kind == "sticker":
        body["animated"] = kw.pop("animated", False)
    return inbound(kind, body, sender=sender, **kw)


def location(
    sender: str, latitude: float, longitude: float, name: str = "", address: str = "", **kw: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name:
        body["name"] = name
    if address:
        body["address"] = address
    return inbound("location", body, sender=sender, **kw)


def contacts(sender: str, cards: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    """``cards`` as Meta sends them: ``name.formatted_name``, ``phones[]`` with ``wa_id``..."""
    message = inbound("contacts", None, sender=sender, **kw)
    message["contacts"] = cards
    return message


def button_reply(sender: str, button_id: str, title: str, **kw: Any) -> dict[str, Any]:
    body = {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}
    return inbound("interactive", body, sender=sender, **kw)


def list_reply(
    sender: str, row_id: str, title: str, description: str = "", **kw: Any
) -> dict[str, Any]:
    reply = {"id": row_id, "title": title, "description": description}
    return inbound("interactive", {"type": "list_reply", "list_reply": reply}, sender=sender, **kw)


def template_button(sender: str, text_: str, payload: str, **kw: Any) -> dict[str, Any]:
    """A quick-reply button of a template (``type: button``)."""
    return inbound("button", {"text": text_, "payload": payload}, sender=sender, **kw)


def reaction(sender: str, message_id: str, emoji: str | None, **kw: Any) -> dict[str, Any]:
    """A reaction to ``message_id``; ``emoji=None`` is a removed reaction."""
    body: dict[str, Any] = {"message_id": message_id}
    if emoji is not None:
        body["emoji"] = emoji
    return inbound("reaction", body, sender=sender, **kw)


def system(
    sender: str | None,
    body: str,
    new_wa_id: str | None = None,
    *,
    user_id: str | None = None,
    kind: str = "user_changed_number",
    **kw: Any,
) -> dict[str, Any]:
    """A ``system`` message: the user changed their number (``new_wa_id``; ``user_id``: the
    new BSUID Meta issues with it) or their BSUID (``kind="user_changed_user_id"``)."""
    content: dict[str, Any] = {"body": body, "type": kind}
    if new_wa_id is not None:
        content["wa_id"] = new_wa_id
    if user_id is not None:
        content["user_id"] = user_id
    return inbound("system", content, sender=sender, **kw)


def unsupported(sender: str, **kw: Any) -> dict[str, Any]:
    errors = [
        {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": {"details": "Message type is currently not supported."},
        }
    ]
    return inbound("unsupported", None, sender=sender, errors=errors, **kw)


def status(
    wamid: str,
    state: str,
    recipient_id: str,
    *,
    timestamp: int | None = None,
    error_code: int | None = None,
    error_title: str = "",
    error_details: str = "",
) -> dict[str, Any]:
    """One entry of ``value.statuses``; ``failed`` carries ``errors`` with code and title."""
    entry: dict[str, Any] = {
        "id": wamid,
        "status": state,
        "timestamp": _ts(timestamp),
        "recipient_id": recipient_id,
    }
    if state in ("sent", "delivered"):
        entry["conversation"] = {
            "id": "CONVERSATION_ID",
            "origin": {"type": "service"},
        }
        entry["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
    if error_code is not None:
        entry["errors"] = [
            {
                "code": error_code,
                "title": error_title,
                "message": error_title,
                "error_data": {"details": error_details},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }
        ]
    return entry


def contact(
    wa_id: str | None = None,
    user_id: str | None = None,
    name: str | None = None,
    username: str | None = None,
) -> dict[str, Any]:
    """One ``contacts`` entry: the phone (``wa_id``, left out for a user with a username who
    did not share it), the business-scoped user id (``user_id``), the profile."""
    entry: dict[str, Any] = {"profile": {}}
    if name is not None:
        entry["profile"]["name"] = name
    if username is not None:
        entry["profile"]["username"] = username
    if wa_id is not None:
        entry["wa_id"] = wa_id
    if user_id is not None:
        entry["user_id"] = user_id
    return entry


def envelope(
    phone_number_id: str,
    *,
    messages: Sequence[dict[str, Any]] = (),
    statuses: Sequence[dict[str, Any]] = (),
    profiles: dict[str, str] | None = None,
    people: Sequence[dict[str, Any]] = (),
    display_phone_number: str = "15550000000",
    waba_id: str = "102290129340398",
) -> dict[str, Any]:
    """The body Meta posts: one entry, one ``messages`` change with ``metadata``/``contacts``.

    ``profiles`` maps wa_id -> profile name (the ``contacts`` of the value); ``people`` adds
    ``contact(...)`` entries (BSUIDs, usernames).
    """
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": display_phone_number,
            "phone_number_id": phone_number_id,
        },
    }
    contacts = [
        {"profile": {"name": name}, "wa_id": wa_id} for wa_id, name in (profiles or {}).items()
    ]
    contacts += list(people)
    if contacts:
        value["contacts"] = contacts
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"value": value, "field": "messages"}]}],
    }
