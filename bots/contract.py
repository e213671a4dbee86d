"""The one contract every messenger adapter implements (Telegram, WhatsApp, email).

Inbound: an adapter turns a platform payload into ``store.inbound.InboundMessage`` and records
it with ``store.inbound.record_inbound`` (through ``bots.webhook.store_call`` from async code).
Outbound: ``await adapter.send(OutboundMessage)`` returns a ``SendResult`` or raises one of the
classified errors of ``bots.errors``. Capabilities a platform lacks degrade to plain text:
buttons become a numbered list, an attachment it cannot carry becomes its URL in the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from aiohttp import web

from store.inbound import Attachment, InboundMessage

__all__ = [
    "Attachment",
    "ChannelAdapter",
    "InboundMessage",
    "OutboundAttachment",
    "OutboundMessage",
    "SendResult",
    "Template",
]


@dataclass(frozen=True, slots=True)
class OutboundAttachment:
    """A file to send: by ``url``, by local ``path``, or by a platform ``file_id``."""

    kind: Literal["photo", "document", "video", "audio"]
    url: str | None = None
    path: str | None = None
    file_id: str | None = None
    file_name: str | None = None
    mime_type: str | None = None


@dataclass(frozen=True, slots=True)
class Template:
    """A WhatsApp template message: ``name``, ``language`` code, raw ``components``."""

    name: str
    language: str = "en_US"
    components: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to one recipient of one bot.

    ``messenger_id`` is the chat id, E.164 phone number or email address. ``outbox_id`` is the
    store's ``Message.id`` of this outbox row (for logs and idempotency), None for ad-hoc sends.
    ``reply_markup`` is passed through to Telegram; other platforms render its buttons as text.
    ``reply_to`` is the platform id of the message answered (email threading uses it).
    ``paid_broadcast``: Telegram only, send with ``allow_paid_broadcast`` (the bot pays Stars
    to pass the 30 messages a second; set by the sender for a bulk row of a bot configured
    with ``paid_broadcast``); other platforms ignore it.
    """

    bot_name: str
    messenger_id: str
    text: str = ""
    subject: str | None = None
    attachments: tuple[OutboundAttachment, ...] = ()
    reply_markup: dict[str, Any] | None = None
    template: Template | None = None
    reply_to: str | None = None
    outbox_id: int | None = None
    paid_broadcast: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the platform answered: its id for the message we sent.

    ``extra["messenger_id"]``, when present, is the platform's own id for the recipient where
    it differs from the one we addressed (WhatsApp's wa_id for another form of a number); the
    sender files the client under it, since their replies will come from it.
    """

    platform_message_id: str
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ChannelAdapter(Protocol):
    """One configured bot of one messenger.

    ``kind`` is ``telegram``, ``whatsapp`` or ``email``; ``name`` the configured bot name.
    ``add_routes`` mounts the adapter's webhook handlers (may do nothing); ``start`` begins any
    background ingest (long polling, IMAP IDLE) and returns at once; ``close`` stops it and
    releases sessions. ``send`` is safe to call from any task of the running event loop.
    """

    kind: ClassVar[str]
    name: str

    def add_routes(self, app: web.Application) -> None: ...

    async def start(self) -> None: ...

    async def send(self, message: OutboundMessage) -> SendResult: ...

    async def close(self) -> None: ...
