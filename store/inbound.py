"""Recording what a client sent: the one write path every channel adapter's ingest uses.

Adapters normalise a platform payload into ``InboundMessage`` and call ``record_inbound``;
the same ``dedup_key`` twice stores one message (platforms redeliver).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import peewee

from store.assignment import assign_round_robin
from store.clock import utcnow
from store.db import database_proxy, write_transaction
from store.models import Bot, Client, Message, Variable


@dataclass(frozen=True, slots=True)
class Attachment:
    """Metadata of a file a message carries; the file itself stays on the platform."""

    kind: str  # photo, document, audio, video, voice, sticker, location, contact, ...
    file_id: str | None = None
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None  # bytes
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        for key in ("file_id", "file_name", "mime_type", "size", "url"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        if self.extra:
            data["extra"] = self.extra
        return data


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A normalised inbound event from any messenger.

    ``dedup_key`` is unique per bot (``tg:update:42``, ``wa:wamid.X``, ``mail:<id@host>``).
    ``name``/``username``/``avatar_url``/``language`` update the client when not None.
    ``variables`` are set on the client (``start_payload`` from a Telegram deep link).
    ``unsubscribed`` (when not None) sets the client's flag: True when they blocked the bot,
    False when they came back (Telegram's ``my_chat_member``).
    """

    bot_name: str
    messenger_id: str
    dedup_key: str
    text: str = ""
    name: str | None = None
    username: str | None = None
    avatar_url: str | None = None
    language: str | None = None
    attachments: tuple[Attachment, ...] = ()
    platform_message_id: str | None = None
    sent_at: dt.datetime | None = None  # naive UTC; defaults to now
    subject: str | None = None
    author_kind: str = "client"
    extra: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    mark_unread: bool = True
    unsubscribed: bool | None = None


@dataclass(frozen=True, slots=True)
class RecordResult:
    client_id: int
    message_id: int | None
    client_created: bool
    duplicate: bool


def get_or_create_client(
    bot: Bot, messenger_id: str, *, name: str | None = None, now: dt.datetime | None = None
) -> tuple[Client, bool]:
    """The client of ``bot`` with ``messenger_id``, created when new (safe under races)."""
    now = now or utcnow()
    client = Client.get_or_none((Client.bot == bot) & (Client.messenger_id == messenger_id))
    if client is not None:
        return client, False
    try:
        with database_proxy.atomic():
            client = Client.create(
                bot=bot,
                messenger_id=messenger_id,
                name=name or messenger_id,
                created_at=now,
                last_action_at=now,
            )
        return client, True
    except peewee.IntegrityError:
        # Another writer created it between our read and our insert.
        return Client.get((Client.bot == bot) & (Client.messenger_id == messenger_id)), False


def record_inbound(event: InboundMessage) -> RecordResult:
    """Store ``event``: create or update its client, add the message, mark the client unread.

    Runs in one transaction. Raises ``store.errors.NotFound`` when the bot is unknown.
    """
    from store.errors import NotFound

    bot = Bot.get_or_none(Bot.name == event.bot_name)
    if bot is None:
        raise NotFound(f"unknown bot {event.bot_name!r}")
    now = utcnow()
    at = event.sent_at or now
    with write_transaction():
        existing = Message.get_or_none(
            (Message.bot == bot) & (Message.dedup_key == event.dedup_key)
        )
        if existing is not None:
            return RecordResult(existing.client_id, existing.id, False, True)
        client, created = get_or_create_client(bot, event.messenger_id, name=event.name, now=at)
        if created:
            assign_round_robin(client.id)
        updates: dict[Any, Any] = {Client.last_action_at: max(at, client.last_action_at)}
        for attr in ("name", "username", "avatar_url", "language"):
            value = getattr(event, attr)
            if value is not None and value != getattr(client, attr):
                updates[getattr(Client, attr)] = value
        if event.mark_unread:
            updates[Client.unread] = True
        if event.unsubscribed is not None:
            updates[Client.unsubscribed] = event.unsubscribed
        Client.update(updates).where(Client.id == client.id).execute()
        for var_name, var_value in event.variables.items():
            set_variable(client.id, var_name, var_value)
        try:
            with database_proxy.atomic():
                message = Message.create(
                    client=client.id,
                    bot=bot,
                    direction="in",
                    author_kind=event.author_kind,
                    text=event.text,
                    subject=event.subject,
                    attachments=[a.as_json() for a in event.attachments],
                    extra=event.extra,
                    platform_message_id=event.platform_message_id,
                    dedup_key=event.dedup_key,
                    created_at=at,
                    updated_at=now,
                )
        except peewee.IntegrityError:
            # A concurrent delivery of the same update won the race: one row, not two.
            existing = Message.get((Message.bot == bot) & (Message.dedup_key == event.dedup_key))
            return RecordResult(existing.client_id, existing.id, False, True)
    return RecordResult(client.id, message.id, created, False)


def set_variable(client_id: int, name: str, value: str) -> None:
    """Set one custom variable of a client (insert or replace the value)."""
    (
        Variable.insert(client=client_id, name=name, value=value)
        .on_conflict(
            conflict_target=[Variable.client, Variable.name], update={Variable.value: value}
        )
        .execute()
    )


def last_inbound_at(client_id: int) -> dt.datetime | None:
    """When the client last wrote to us (naive UTC, the platform's timestamp), None if never.

    One lookup on the ``message (client, created_at)`` index, newest first; WhatsApp's
    24-hour window counts from this moment.
    """
    last = (
        Message.select(Message.created_at)
        .where((Message.client == client_id) & (Message.direction == "in"))
        .order_by(Message.created_at.desc())
        .first()
    )
    return None if last is None else last.created_at


def set_avatar_url(client_id: int, url: str) -> None:
    """Record the avatar of a client, found after its first message (Telegram profile photo)."""
    Client.update(avatar_url=url).where(Client.id == client_id).execute()
