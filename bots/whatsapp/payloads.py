"""Reading a Cloud API webhook payload: inbound messages and delivery statuses.

The shape (``object: whatsapp_business_account``, ``entry[].changes[].value`` with
``metadata``, ``contacts``, ``messages``, ``statuses``) is the one of Meta's documentation.
The sender is ``from`` (phone digits) and/or the business-scoped user id of their
``contacts`` entry (``user_id``; a user with a username may come with that alone): the
message's ``messenger_id`` is the E.164 phone when there is one, else the BSUID, and
``extra["user_id"]`` carries the BSUID for ``store.identities``.
Every message type becomes one ``InboundMessage``: the text (or caption, or reply title) in
``text``, files and shared objects in ``attachments``, the Cloud API type and its specifics in
``extra``; ``reaction`` and ``system`` messages are service events (``author_kind="system"``,
not marking the client unread). Unknown fields and unknown message types are kept, never
refused.

Only a body that is not a Cloud API payload as a whole (``object`` is not
``whatsapp_business_account``, ``entry`` is not a list) raises ``PayloadError`` (the webhook
answers 400). Any item inside it that cannot be used — an entry, change or value of the wrong
shape, a message or status that fails its model (``bots.whatsapp.shapes``: a ``from`` that is
not 1-20 digits, a message with neither a phone nor a BSUID) — is returned in ``unusable`` and
the other items are read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bots.unusable import Unusable
from bots.whatsapp.shapes import BSUID, WA_ID, MessageShape, StatusShape, problem
from store.inbound import Attachment, InboundMessage
from store.sanitize import from_epoch

# Cloud API media message types -> our attachment kinds
MEDIA_KINDS = {
    "image": "photo",
    "video": "video",
    "document": "document",
    "sticker": "sticker",
    "audio": "audio",
}


# Message types that are service events (F7): they leave the client read and are not the
# client's last message.
SERVICE_TYPES = frozenset({"reaction", "system"})


class PayloadError(ValueError):
    """The body is JSON but not a Cloud API webhook payload."""


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One delivery status of a message we sent: ``status`` is sent/delivered/read/failed."""

    wamid: str
    status: str
    recipient_id: str | None
    at: dt.datetime | None
    error_code: str | None = None
    error_text: str | None = None


@dataclass(slots=True)
class ParsedPayload:
    messages: list[InboundMessage]
    statuses: list[StatusUpdate]
    skipped: int  # changes for another phone number or of another field
    unusable: list[Unusable] = field(default_factory=list)


def e164(wa_id: str) -> str:
    """A WhatsApp id (digits of the phone number) as E.164: ``16315551181`` -> ``+16315551181``."""
    return wa_id if wa_id.startswith("+") else f"+{wa_id}"


def from_timestamp(value: Any) -> dt.datetime | None:
    """Meta's epoch-seconds string as naive UTC; None when absent or not a number (dates out
    of the sane window are replaced by ``store.sanitize`` when stored)."""
    return from_epoch(value)


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{where} must be a list")
    return value


def parse_payload(data: dict[str, Any], *, bot_name: str, phone_number_id: str) -> ParsedPayload:
    """Every message and status of ``data`` addressed to ``phone_number_id``, and the items
    that could not be used."""
    if data.get("object") != "whatsapp_business_account":
        raise PayloadError("object must be 'whatsapp_business_account'")
    parsed = ParsedPayload([], [], 0)
    for i, entry in enumerate(_list(data.get("entry"), "entry")):
        if not isinstance(entry, dict) or not isinstance(entry.get("changes", []), list):
            parsed.unusable.append(Unusable("entry", f"entry[{i}]: not an entry object", entry))
            continue
        for j, change in enumerate(entry.get("changes", [])):
            try:
                _read_change(change, parsed, bot_name, phone_number_id)
            except PayloadError as exc:
                where = f"entry[{i}].changes[{j}]"
                parsed.unusable.append(Unusable("change", f"{where}: {exc}", change))
    return parsed


def _read_change(change: Any, parsed: ParsedPayload, bot_name: str, phone_number_id: str) -> None:
    """Add one ``changes[]`` item's messages and statuses to ``parsed``; ``PayloadError`` when
    the change itself is not usable (its items are then not read)."""
    change = _obj(change, "change")
    value = _obj(change.get("value", {}), "value")
    metadata = value.get("metadata") or {}
    target = str(metadata.get("phone_number_id", "")) if isinstance(metadata, dict) else ""
    if change.get("field") != "messages" or (target and target != phone_number_id):
        parsed.skipped += 1
        return
    messages = _list(value.get("messages"), "value.messages")
    statuses = _list(value.get("statuses"), "value.statuses")
    people = _contacts(value)
    for message in messages:
        try:
            shape = MessageShape.model_validate(message)
            parsed.messages.append(_message(message, shape, people, bot_name, metadata))
        except ValidationError as exc:
            parsed.unusable.append(Unusable(*problem(exc, "message"), message))
        except PayloadError as exc:
            parsed.unusable.append(Unusable("message.from", f"message.from: {exc}", message))
    for status in statuses:
        try:
            parsed.statuses.append(_status(StatusShape.model_validate(status)))
        except ValidationError as exc:
            parsed.unusable.append(Unusable(*problem(exc, "status"), status))


@dataclass(frozen=True, slots=True)
class Person:
    """One entry of ``value.contacts``: the sender as Meta names them."""

    wa_id: str | None  # phone digits; omitted for a user with a username and no shared phone
    user_id: str | None  # the business-scoped user id (BSUID)
    name: str | None
    username: str | None


def _contacts(value: dict[str, Any]) -> list[Person]:
    """The ``contacts`` entries; ids not of their platform's form (``shapes.WA_ID``,
    ``shapes.BSUID``) are left out, never made into a client id."""
    people = []
    contacts = value.get("contacts")
    for contact in contacts if isinstance(contacts, list) else []:
        if not isinstance(contact, dict):
            continue
        profile = contact.get("profile")
        profile = profile if isinstance(profile, dict) else {}
        name, username = profile.get("name"), profile.get("username")
        people.append(
            Person(
                _id(contact.get("wa_id"), WA_ID),
                _id(contact.get("user_id"), BSUID),
                name if isinstance(name, str) and name else None,
                username.lstrip("@") if isinstance(username, str) and username else None,
            )
        )
    return people


def _id(value: Any, form: Any) -> str | None:
    """``value`` when it is a string of the id's form (a compiled pattern), else None."""
    return value if isinstance(value, str) and form.fullmatch(value) else None


def _sender(shape: MessageShape, people: list[Person]) -> tuple[str | None, Person | None]:
    """The sender's phone digits (None when Meta withheld it) and their contacts entry: the
    one with that ``wa_id``, or ``from_user_id``'s BSUID, or the only entry there is."""
    phone = shape.sender or None
    bsuid = shape.from_user_id or None
    for person in people:
        if (phone and person.wa_id == phone) or (bsuid and person.user_id == bsuid):
            return phone, person
    if len(people) == 1 and not (phone and people[0].wa_id):
        return phone, people[0]
    if bsuid:
        return phone, Person(None, bsuid, None, None)
    return phone, None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _message(
    message: dict[str, Any],
    shape: MessageShape,
    people: list[Person],
    bot_name: str,
    metadata: Any,
) -> InboundMessage:
    wamid = shape.id
    phone, person = _sender(shape, people)
    bsuid = person.user_id if person is not None else None
    if not (phone or bsuid):
        raise PayloadError("no 'from' and no user_id of the sender")
    kind = shape.type or "unsupported"
    text, attachments, extra = _content(kind, message)
    extra = {"type": kind, **extra}
    context = message.get("context")
    if isinstance(context, dict) and context.get("id"):
        extra["reply_to"] = context["id"]
    if isinstance(metadata, dict) and metadata.get("display_phone_number"):
        extra["to"] = str(metadata["display_phone_number"])
    service = kind in SERVICE_TYPES
    if bsuid:
        extra["user_id"] = bsuid  # store.identities files the client by it
    return InboundMessage(
        bot_name=bot_name,
        messenger_id=e164(phone) if phone else str(bsuid),
        dedup_key=f"wa:{wamid}",
        text=text,
        name=person.name if person is not None else None,
        username=person.username if person is not None else None,
        attachments=tuple(attachments),
        platform_message_id=wamid,
        sent_at=from_timestamp(message.get("timestamp")),
        extra=extra,
        author_kind="system" if service else "client",
        mark_unread=not service,
    )


def _content(kind: str, message: dict[str, Any]) -> tuple[str, list[Attachment], dict[str, Any]]:
    """The text, attachments and type-specific extras of one message of type ``kind``."""
    body = message.get(kind)
    body = body if isinstance(body, dict) else {}
    if kind == "text":
        return str(body.get("body", "")), [], {}
    if kind in MEDIA_KINDS:
        attachment_kind = MEDIA_KINDS[kind]
        if kind == "audio" and body.get("voice"):
            attachment_kind = "voice"
        media_extra = {k: body[k] for k in ("sha256", "animated") if k in body}
        attachment = Attachment(
            kind=attachment_kind,
            file_id=_str(body.get("id")),
            file_name=_str(body.get("filename")),
            mime_type=_str(body.get("mime_type")),
            url=_str(body.get("url")),
            extra=media_extra,
        )
        return str(body.get("caption") or ""), [attachment], {}
    if kind == "location":
        place = [str(body[k]) for k in ("name", "address") if body.get(k)]
        return ", ".join(place), [Attachment(kind="location", extra=dict(body))], {}
    if kind == "contacts":
        shared = message.get("contacts")
        cards = [c for c in shared if isinstance(c, dict)] if isinstance(shared, list) else []
        names = [_card_name(c.get("name")) for c in cards]
        attachments = [Attachment(kind="contact", extra=c) for c in cards]
        return ", ".join(n for n in names if n), attachments, {}
    if kind == "interactive":
        reply_type = str(body.get("type", ""))
        reply = body.get(reply_type)
        reply = reply if isinstance(reply, dict) else {}
        extra = {"reply": {"type": reply_type, **reply}}
        return str(reply.get("title") or reply.get("name") or ""), [], extra
    if kind == "button":  # a quick-reply button of a template
        return str(body.get("text", "")), [], {"reply": {"type": "button", **body}}
    if kind == "reaction":
        emoji = str(body.get("emoji") or "")
        reaction = {"message_id": body.get("message_id"), "emoji": emoji or None}
        return f"reacted {emoji}" if emoji else "removed the reaction", [], {"reaction": reaction}
    if kind == "system":  # the user changed their number, ...
        text = str(body.get("body") or body.get("type") or "system message")
        return text, [], {"system": body}
    # unsupported, and types this code does not know yet (order, system, ...): keep the raw body
    raw: dict[str, Any] = {}
    if body:
        raw[kind] = body
    if message.get("errors"):
        raw["errors"] = message["errors"]
    return "", [], raw


def _card_name(name: Any) -> str:
    """A shared contact card's name: ``{"formatted_name": ...}`` as documented, or a string."""
    if isinstance(name, dict):
        return str(name.get("formatted_name") or "")
    return name if isinstance(name, str) else ""


def _status(status: StatusShape) -> StatusUpdate:
    code: str | None = None
    text: str | None = None
    errors = status.errors
    if errors and isinstance(errors[0], dict):
        error = errors[0]
        code = _str(error.get("code"))
        data = error.get("error_data")
        details = data.get("details") if isinstance(data, dict) else data  # a string, at times
        title = error.get("title") or error.get("message")
        text = ": ".join(str(part) for part in (title, details) if part) or None
    return StatusUpdate(
        wamid=status.id,
        status=status.status,
        recipient_id=status.recipient_id,
        at=from_timestamp(status.timestamp),
        error_code=code,
        error_text=text,
    )
