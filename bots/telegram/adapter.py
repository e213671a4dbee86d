"""The Telegram adapter: the channel contract for one bot, on aiogram 3.

Outbound, one ``OutboundMessage`` becomes:

* text only: ``sendMessage`` (text over 4096 characters is split at line breaks into several
  messages; ``reply_markup`` goes on the last one);
* attachments: one ``sendPhoto`` (kind ``photo``), ``sendVideo`` (``video``) or
  ``sendDocument`` (any other kind) each, by ``url``, ``file_id`` or a local ``path``
  (uploaded); the text is the caption of the first one when it fits 1024 characters, otherwise
  it is sent first as its own message. A file sent by path or URL is uploaded once per bot:
  the ``file_id`` Telegram answers is recorded and sent to the next recipients
  (``bots.telegram.uploads``).

An outbox row with ``extra["action"]`` ``approve_chat_join_request`` or
``decline_chat_join_request`` (``chat_id``, ``user_id``) is that call instead of a message.

A client of a Telegram Business chat (messenger id ``biz:<connection>:<chat>``) is answered
with ``business_connection_id``; a connection the owner disabled, or that may not reply,
raises ``PermanentError`` without calling Telegram.

A message marked ``paid_broadcast`` (a bulk row) of a bot configured with ``paid_broadcast``
goes out with ``allow_paid_broadcast``: Telegram lets it past the 30 a second and charges the
bot Stars for it (not for a business chat, which is answered on the owner's behalf).

``reply_markup`` (a Bot API dict: ``inline_keyboard``, ``keyboard``, ``remove_keyboard``,
``force_reply``) is passed through; ``reply_to`` answers a message. The text is plain (no
parse mode) unless ``extra["parse_mode"]`` says ``HTML`` or ``MarkdownV2``; the caption and
split limits of HTML count the text its markup shows, and HTML within them is never cut. The
``SendResult`` carries the first message id (``extra["message_ids"]``: all of them). aiogram's
exceptions become the contract's errors (``bots.telegram.errors.classify``).

The ``Bot`` and its HTTP session are created on first use in the running event loop, so one
adapter object serves one event loop (the delivery engine builds one per worker thread).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from aiogram import Bot
from aiogram.exceptions import AiogramError
from aiogram.types import (
    ForceReply,
    FSInputFile,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)
from aiohttp import web
from pydantic import ValidationError

from bots.contract import OutboundAttachment, OutboundMessage, SendResult
from bots.errors import PermanentError
from bots.telegram.client import make_bot
from bots.telegram.errors import classify
from bots.telegram.ingest import Ingest
from bots.telegram.polling import Poller
from bots.telegram.secret import stored_secret
from bots.telegram.uploads import TelegramUploads
from bots.telegram.webhook import install
from bots.webhook import secrets_match, store_call
from config import Settings, TelegramBotSettings
from store.business import connection_of, split_business_key
from store.campaigns.telegram_html import HtmlError, plain_text, validate_html

MAX_TEXT = 4096
# ``extra["action"]`` of an outbox row that is a Bot API call instead of a message
JOIN_ACTIONS = frozenset({"approve_chat_join_request", "decline_chat_join_request"})
MAX_CAPTION = 1024
SECRET_REREAD_S = 1.0
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply


def parse_markup(markup: dict[str, Any] | None) -> Markup | None:
    """The aiogram object for a Bot API ``reply_markup`` dict; ``PermanentError`` if invalid."""
    if not markup:
        return None
    kinds: list[tuple[str, type[Any]]] = [
        ("inline_keyboard", InlineKeyboardMarkup),
        ("keyboard", ReplyKeyboardMarkup),
        ("remove_keyboard", ReplyKeyboardRemove),
        ("force_reply", ForceReply),
    ]
    for key, model in kinds:
        if key in markup:
            try:
                parsed: Markup = model.model_validate(markup)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise PermanentError(f"invalid reply_markup at {where}: {first['msg']}") from None
            return parsed
    raise PermanentError(
        "invalid reply_markup: expected inline_keyboard, keyboard, remove_keyboard or force_reply"
    )


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut at line breaks when possible."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text or not parts:
        parts.append(text)
    return parts


def visible_length(text: str, parse_mode: str | None) -> int:
    """The length Telegram checks: of the text HTML markup shows (the raw length for other
    parse modes, and for markup that does not parse: Telegram refuses that anyway)."""
    if (parse_mode or "").upper() != "HTML":
        return len(text)
    try:
        validate_html(text)
    except HtmlError:
        return len(text)
    return len(plain_text(text, links=False))


def chat_id_of(messenger_id: str) -> int | str:
    """Telegram's ``chat_id``: the numeric id (or an ``@channel`` username)."""
    value = messenger_id.strip()
    if value.startswith("@") and len(value) > 1:
        return value
    try:
        return int(value)
    except ValueError:
        raise PermanentError(f"not a Telegram chat id: {messenger_id!r}") from None


class TelegramAdapter:
    """One configured Telegram bot (``TelegramBotSettings``)."""

    kind: ClassVar[str] = "telegram"

    def __init__(self, bot: TelegramBotSettings, settings: Settings | None = None) -> None:
        self.settings_bot = bot
        self.name = bot.name
        self.settings = settings
        self._bot: Bot | None = None
        self._ingest: Ingest | None = None
        self._poller: Poller | None = None
        self._stored_secret: str | None = None
        self._secret_read_at = 0.0
        self.uploads = TelegramUploads(self.name)

    @property
    def token(self) -> str:
        token = self.settings_bot.token
        if token is None:
            raise PermanentError(f"bot {self.name!r} has no token configured")
        return token.get_secret_value()

    def bot(self) -> Bot:
        """The aiogram ``Bot``, created on first use."""
        if self._bot is None:
            self._bot = make_bot(self.token, self.settings_bot.api_base)
        return self._bot

    @property
    def ingest(self) -> Ingest:
        """The update ingest (webhook and polling), created on first use in the event loop."""
        if self._ingest is None:
            self._ingest = Ingest(
                self.name,
                self.bot,
                fetch_avatars=self.settings_bot.fetch_avatars,
                business=self.settings_bot.business,
            )
        return self._ingest

    def add_routes(self, app: web.Application) -> None:
        install(app, self)

    async def start(self) -> None:
        """Polling mode: start polling. Webhook mode: nothing (Telegram posts to us)."""
        if self.settings_bot.mode == "polling":
            self._poller = Poller(self, timeout_s=self.settings_bot.poll_timeout_s)
            self._poller.start()

    async def close(self) -> None:
        if self._poller is not None:
            await self._poller.stop()
            self._poller = None
        if self._ingest is not None:
            await self._ingest.close()
        if self._bot is not None:
            await self._bot.session.close()
        self._bot = None

    async def secret_matches(self, given: str) -> bool:
        """Whether ``given`` is the webhook secret (the configured one, else the one
        set-webhook generated and stored), compared in constant time. While none is stored
        every request looks again; a mismatch re-reads it at most once a second (set-webhook
        may have changed it)."""
        configured = self.settings_bot.webhook_secret
        if configured is not None:
            return secrets_match(given, configured.get_secret_value())
        loop = asyncio.get_running_loop()
        if not self._stored_secret or (
            not secrets_match(given, self._stored_secret)
            and loop.time() - self._secret_read_at > SECRET_REREAD_S
        ):
            self._secret_read_at = loop.time()
            self._stored_secret = await store_call(stored_secret, self.name) or ""
        return bool(self._stored_secret) and secrets_match(given, self._stored_secret)

    async def send(self, message: OutboundMessage) -> SendResult:
        action = message.extra.get("action")
        if action in JOIN_ACTIONS:
            return await self._answer_join(action, message.extra)
        business = split_business_key(message.messenger_id)
        connection_id: str | None = None
        if business is not None:
            connection_id = business[0]
            await self._check_connection(connection_id)
        chat_id = chat_id_of(business[1] if business else message.messenger_id)
        markup = parse_markup(message.reply_markup)
        try:
            sent = await self._send(chat_id, message, markup, connection_id)
        except AiogramError as exc:
            raise classify(exc) from exc
        ids = [str(m.message_id) for m in sent]
        return SendResult(ids[0], extra={"message_ids": ids})

    async def _answer_join(self, action: str, extra: dict[str, Any]) -> SendResult:
        """An operator's decision on a join request (``commands.admin.joins``)."""
        chat_id, user_id = extra.get("chat_id"), extra.get("user_id")
        if not isinstance(chat_id, int) or not isinstance(user_id, int):
            raise PermanentError("a join request decision needs integer chat_id and user_id")
        bot = self.bot()
        try:
            if action == "approve_chat_join_request":
                await bot.approve_chat_join_request(chat_id, user_id)
            else:
                await bot.decline_chat_join_request(chat_id, user_id)
        except AiogramError as exc:
            raise classify(exc) from exc
        return SendResult(f"join:{chat_id}:{user_id}", extra={"action": action})

    async def _check_connection(self, connection_id: str) -> None:
        """Refuse a reply through a business connection the owner disabled or that may not
        reply (a connection never seen is tried: Telegram has the last word)."""
        connection = await store_call(connection_of, self.name, connection_id)
        if connection is None:
            return
        owner = connection.owner_name or str(connection.owner_user_id)
        if not connection.enabled:
            raise PermanentError(
                f"the Telegram Business connection of {owner} is disabled: the owner turned "
                "the bot off for their chats"
            )
        if not connection.can_reply:
            raise PermanentError(
                f"the Telegram Business connection of {owner} does not let the bot reply"
            )

    async def _send(
        self,
        chat_id: int | str,
        message: OutboundMessage,
        markup: Markup | None,
        connection_id: str | None = None,
    ) -> list[Message]:
        bot = self.bot()
        parse_mode = message.extra.get("parse_mode")
        # Stars are spent only when the bot's owner opted in (paid_broadcast in config.yaml).
        paid = message.paid_broadcast and self.settings_bot.paid_broadcast and not connection_id
        reply = (
            ReplyParameters(message_id=int(message.reply_to), allow_sending_without_reply=True)
            if message.reply_to and str(message.reply_to).isdigit()
            else None
        )
        text = message.text or ""
        attachments = list(message.attachments)
        if not text.strip() and not attachments:
            raise PermanentError("nothing to send: no text and no attachment")
        sent: list[Message] = []
        caption: str | None = None
        shown = visible_length(text, parse_mode)
        if attachments and shown <= MAX_CAPTION:
            caption = text or None
        elif text.strip():
            # markup is never cut: Telegram counts its limit on the text the markup shows
            parts = [text] if shown <= MAX_TEXT else split_text(text)
            for i, part in enumerate(parts):
                last = i == len(parts) - 1 and not attachments
                sent.append(
                    await bot.send_message(
                        chat_id,
                        part,
                        parse_mode=parse_mode,
                        reply_markup=markup if last else None,
                        reply_parameters=reply if i == 0 else None,
                        business_connection_id=connection_id,
                        allow_paid_broadcast=paid or None,
                    )
                )
        for i, attachment in enumerate(attachments):
            first = i == 0
            sent.append(
                await self._send_file(
                    bot,
                    chat_id,
                    attachment,
                    caption=caption if first else None,
                    parse_mode=parse_mode if first else None,
                    markup=markup if i == len(attachments) - 1 else None,
                    reply=reply if first and not sent else None,
                    connection_id=connection_id,
                    paid=paid,
                )
            )
        return sent

    async def _send_file(
        self,
        bot: Bot,
        chat_id: int | str,
        attachment: OutboundAttachment,
        *,
        caption: str | None,
        parse_mode: str | None,
        markup: Markup | None,
        reply: ReplyParameters | None,
        connection_id: str | None = None,
        paid: bool = False,
    ) -> Message:
        common: dict[str, Any] = {
            "caption": caption,
            "parse_mode": parse_mode,
            "reply_markup": markup,
            "reply_parameters": reply,
            "business_connection_id": connection_id,
            "allow_paid_broadcast": paid or None,
        }
        if attachment.file_id:
            return await _send_media(bot, chat_id, attachment.kind, attachment.file_id, common)
        return await self.uploads.send(
            attachment, lambda media: _send_media(bot, chat_id, attachment.kind, media, common)
        )


async def _send_media(
    bot: Bot, chat_id: int | str, kind: str, media: str | FSInputFile, common: dict[str, Any]
) -> Message:
    if kind == "photo":
        return await bot.send_photo(chat_id, media, **common)
    if kind == "video":
        return await bot.send_video(chat_id, media, **common)
    return await bot.send_document(chat_id, media, **common)
