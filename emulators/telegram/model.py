"""The emulator's state: bots, scripted users, chats, messages, files, calls, API errors."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT = 4096  # characters of a text message
MAX_CAPTION = 1024  # characters of a photo or document caption
MAX_CALLBACK_DATA = 64  # bytes of a button's callback_data


class ApiError(Exception):
    """An answer of ``{"ok": false, ...}``: HTTP ``code``, Telegram's ``description``."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            data["parameters"] = {"retry_after": self.retry_after}
        return data


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


CHAT_NOT_FOUND = "chat not found"
BLOCKED = "Forbidden: bot was blocked by the user"
DEACTIVATED = "Forbidden: user is deactivated"


@dataclass(frozen=True, slots=True)
class Call:
    """One Bot API request: ``method`` as named in the URL, parsed ``params`` (files as
    ``{"file_name", "size"}``), the HTTP ``status`` answered and the JSON ``response``."""

    token: str
    method: str
    params: dict[str, Any]
    status: int
    response: dict[str, Any]
    at: float  # time.time()
    received: float = 0.0  # the emulator's clock (s) when the request arrived: flood counting


@dataclass(slots=True)
class StoredFile:
    """A file the emulator holds: uploaded by the bot, or sent by a scripted user."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(slots=True)
class SentMessage:
    """One message in a chat, the bot's (``outgoing``) or a scripted user's.

    Mutable: ``editMessageText`` / ``editMessageReplyMarkup`` change ``text`` and
    ``reply_markup`` (earlier versions go to ``edits``); ``deleteMessage`` sets ``deleted``.
    ``kind`` is ``text``, ``photo``, ``video`` or ``document``; ``file`` the file sent.
    """

    token: str
    chat_id: int
    message_id: int
    kind: str
    text: str | None
    date: int
    outgoing: bool
    reply_markup: dict[str, Any] | None = None
    file: StoredFile | None = None
    source: str | None = None  # how the bot gave the file: upload, url, file_id
    params: dict[str, Any] = field(default_factory=dict)
    edits: list[tuple[str | None, dict[str, Any] | None]] = field(default_factory=list)
    deleted: bool = False
    json: dict[str, Any] = field(default_factory=dict)  # the Message object as last returned

    @property
    def caption(self) -> str | None:
        return self.text if self.kind != "text" else None

    def buttons(self) -> list[dict[str, Any]]:
        """The inline keyboard's buttons, row by row, flattened."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row if isinstance(button, dict)]


@dataclass(slots=True)
class UserState:
    """A scripted Telegram user as one bot sees them."""

    user_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"
    is_premium: bool = False
    blocked: bool = False  # the user blocked this bot
    deactivated: bool = False  # the account was deleted
    photos: list[StoredFile] = field(default_factory=list)  # profile photos, newest first

    def as_user(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data

    def as_chat(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.user_id, "type": "private"}
        data["first_name"] = self.first_name
        for key in ("last_name", "username"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data


@dataclass(slots=True)
class GroupState:
    chat_id: int
    title: str
    type: str = "group"

    def as_chat(self) -> dict[str, Any]:
        return {"id": self.chat_id, "type": self.type, "title": self.title}


@dataclass(slots=True)
class Webhook:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class BotState:
    """One bot of the emulator, keyed by its token."""

    token: str
    bot_id: int
    username: str
    first_name: str
    users: dict[int, UserState] = field(default_factory=dict)
    groups: dict[int, GroupState] = field(default_factory=dict)
    messages: dict[tuple[int, int], SentMessage] = field(default_factory=dict)
    outgoing: list[SentMessage] = field(default_factory=list)
    webhook: Webhook | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)  # updates not yet confirmed
    commands: list[dict[str, Any]] = field(default_factory=list)
    # setChatMenuButton: by chat id, None for the default of every private chat
    menu_buttons: dict[int | None, dict[str, Any]] = field(default_factory=dict)
    callback_queries: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    answers: list[dict[str, Any]] = field(default_factory=list)  # answerCallbackQuery params
    chat_actions: list[tuple[int, str]] = field(default_factory=list)
    files: dict[str, StoredFile] = field(default_factory=dict)  # by file_id
    # (chat_id, user_id) of join requests -> pending, approved or declined
    join_requests: dict[tuple[int, int], str] = field(default_factory=dict)
    business: dict[str, Any] = field(default_factory=dict)  # BusinessConnectionState by id
    file_paths: dict[str, StoredFile] = field(default_factory=dict)  # by file_path

    def __post_init__(self) -> None:
        self.update_ids = itertools.count(100_000_001)
        self.message_ids: dict[int, itertools.count[int]] = {}
        self.updates_changed = asyncio.Event()
        self.poller: asyncio.Event | None = None  # set to terminate the running getUpdates
        self.delivering = asyncio.Lock()

    def next_message_id(self, chat_id: int) -> int:
        counter = self.message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def as_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def chat(self, chat_id: int) -> dict[str, Any] | None:
        if chat_id in self.users:
            return self.users[chat_id].as_chat()
        if chat_id in self.groups:
            return self.groups[chat_id].as_chat()
        return None


def now_s() -> int:
    """Unix time in whole seconds, as Telegram's ``date`` fields."""
    return int(time.time())
