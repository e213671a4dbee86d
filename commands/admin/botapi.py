"""Calling the Bot API for the admin bot: replies, the command menu, files operators send.

``execute`` runs rendered calls in order and absorbs what Telegram answers along the way:
429 waits ``retry_after`` and tries again (up to ``MAX_RETRIES``); an edit refused because
nothing changed is fine; any other refused edit (message too old or deleted) is sent as a new
message instead; other errors are logged and the call's result is None.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramRetryAfter
from aiogram.methods import EditMessageReplyMarkup, EditMessageText, SendMessage
from aiogram.types import BotCommand, BotCommandScopeChat, MenuButtonWebApp, Message, WebAppInfo

from commands.admin import forward, miniapp
from commands.admin.registry import CommandSet
from commands.admin.render import PLACEHOLDER, Method, render
from commands.admin.reply import Reply
from config import PermissionsSettings

log = logging.getLogger("switchboard.admin_bot")

MAX_RETRIES = 3  # attempts of one call that Telegram rate-limited (429)
RETRY_CAP_S = 60.0  # the longest single wait for a 429, seconds


async def call(bot: Bot, method: Method) -> Any:
    """One Bot API call; its result, or None when Telegram refused it (logged)."""
    for attempt in range(MAX_RETRIES + 1):
        try:
            return await bot(method)
        except TelegramRetryAfter as exc:
            if attempt == MAX_RETRIES:
                log.warning("admin bot: %s still rate-limited; dropped", type(method).__name__)
                return None
            await asyncio.sleep(min(exc.retry_after, RETRY_CAP_S))
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return None
            if isinstance(method, EditMessageText):
                fallback = SendMessage(
                    chat_id=method.chat_id or 0,
                    text=method.text or PLACEHOLDER,
                    reply_markup=method.reply_markup,
                )
                return await call(bot, fallback)
            if not isinstance(method, EditMessageReplyMarkup):
                log.warning("admin bot: %s refused: %s", type(method).__name__, exc.message)
            return None
        except TelegramAPIError as exc:
            log.warning("admin bot: %s failed: %s", type(method).__name__, exc.message)
            return None
    return None


async def execute(bot: Bot, methods: list[Method]) -> list[Any]:
    """Run the calls in order; each one's result (None when it failed)."""
    return [await call(bot, method) for method in methods]


async def show(bot: Bot, reply: Reply, chat_id: int, message_id: int | None = None) -> list[int]:
    """Show ``reply`` in ``chat_id`` (editing ``message_id`` when the reply edits); the ids
    of the messages sent or edited."""
    results = await execute(bot, render(reply, chat_id, pressed_message_id=message_id))
    return [r.message_id for r in results if isinstance(r, Message)]


def menu_commands(commands: CommandSet, allowed: frozenset[str]) -> list[BotCommand]:
    """The ``/`` menu entries (Telegram: names ``[a-z0-9_]{1,32}``, descriptions 1-256
    characters) of the commands a role with capabilities ``allowed`` may use."""
    return [
        BotCommand(command=c.name, description=c.help[:256] or c.name)
        for c in commands.commands.values()
        if c.capability in (None, *allowed) and re.fullmatch(r"[a-z0-9_]{1,32}", c.name)
    ]


async def publish_menu(
    bot: Bot, commands: CommandSet, admins: list[int], permissions: PermissionsSettings
) -> None:
    """Telegram's command menu: the operator role's commands by default, the admin role's in
    each admin's chat (``permissions``: config.yaml's). A failure costs only the menu
    (logged)."""
    operator_menu = menu_commands(commands, permissions.of_role("operator"))
    menus: list[tuple[list[BotCommand], Any]] = [(operator_menu, None)]
    everything = menu_commands(commands, permissions.of_role("admin"))
    menus += [(everything, BotCommandScopeChat(chat_id=chat)) for chat in admins]
    for entries, scope in menus:
        try:
            await bot.set_my_commands(entries, scope=scope)
        except TelegramAPIError as exc:
            log.warning("admin bot: setMyCommands failed: %s", exc.message)
            return


async def publish_app_button(bot: Bot, url: str | None) -> None:
    """The menu button next to every operator's message field opens the Mini App at ``url``
    (``commands.admin.miniapp``); without a URL the button is left as it is. A failure costs
    only the button (logged)."""
    if url is None:
        return
    button = MenuButtonWebApp(text=miniapp.MENU_TEXT, web_app=WebAppInfo(url=url))
    try:
        await bot.set_chat_menu_button(menu_button=button)
    except TelegramAPIError as exc:
        log.warning("admin bot: setChatMenuButton failed: %s", exc.message)


async def fetch_attachment(bot: Bot, message: Message, files_dir: str) -> dict[str, Any] | None:
    """The photo (largest size) or document of ``message`` downloaded into ``files_dir``, as
    an outbox attachment; None when it has neither. Raises ``TelegramAPIError``."""
    if message.photo:
        photo = message.photo[-1]
        file_id, name = photo.file_id, f"photo_{photo.file_unique_id}.jpg"
        attachment: dict[str, Any] = {"kind": "photo", "mime_type": "image/jpeg"}
    elif message.document:
        doc = message.document
        file_id, name = doc.file_id, forward.safe_name(doc.file_name, "document")
        attachment = {"kind": "document"}
        if doc.mime_type:
            attachment["mime_type"] = doc.mime_type
    else:
        return None
    buffer = io.BytesIO()
    await bot.download(file_id, destination=buffer)
    path = await asyncio.to_thread(forward.store_file, files_dir, name, buffer.getvalue())
    return {**attachment, "path": path, "file_name": name}
