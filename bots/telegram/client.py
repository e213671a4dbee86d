"""Making aiogram ``Bot`` objects for a token and an optional API base URL.

``api_base`` (a local Bot API server, or the emulator) replaces ``https://api.telegram.org``
for methods and file downloads. Used by the channel adapter and by the admin bot.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

DEFAULT_TIMEOUT_S = 30.0  # one Bot API request; long polls add their own timeout


def make_bot(
    token: str, api_base: str | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Bot:
    """An aiogram ``Bot`` with its own aiohttp session (created on first request)."""
    if api_base:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_base), timeout=timeout_s)
    else:
        session = AiohttpSession(timeout=timeout_s)
    return Bot(token, session=session)


def file_url(bot: Bot, file_path: str) -> str:
    """Where a file of ``getFile`` downloads from (contains the token: never store or log)."""
    return bot.session.api.file_url(bot.token, file_path)
