"""Send pacing shared by every worker: which keys one send passes, and the two limiters.

The rules (spacing, window guard, pauses, the learned rate) are in ``workers.pacing``; the
limiters in ``workers.memory_limiter`` (``memory://``: one process) and
``workers.redis_limiter`` (``redis://``: every worker process on one timeline).
"""

from __future__ import annotations

import math

from config import DeliverySettings, EmailBotSettings, TelegramBotSettings, WhatsAppBotSettings
from workers.memory_limiter import MemoryLimiter
from workers.pacing import Admission, Aimd, BotRate, Grant, Limit, Limiter, Penalty
from workers.redis_limiter import RedisLimiter

BotConfig = TelegramBotSettings | WhatsAppBotSettings | EmailBotSettings

__all__ = [
    "Admission",
    "Aimd",
    "BotConfig",
    "BotRate",
    "Grant",
    "Limit",
    "Limiter",
    "MemoryLimiter",
    "Penalty",
    "RedisLimiter",
    "aimd_of",
    "bot_key",
    "chat_key",
    "configured_rate",
    "limits_for",
    "paid_key",
]


def aimd_of(delivery: DeliverySettings) -> Aimd:
    """The learned-rate rule the ``delivery.rate_*`` settings describe."""
    return Aimd(
        delivery.rate_cut_factor,
        delivery.rate_floor_fraction,
        delivery.rate_raise_fraction,
        delivery.rate_raise_every_s,
    )


def configured_rate(bot: BotConfig, delivery: DeliverySettings) -> float:
    """The bot's rate before learning: ``messages_per_second`` x ``rate_headroom`` (msg/s)."""
    return bot.messages_per_second * delivery.rate_headroom


def _windowed(key: str, per_s: float, burst_s: float = 0.0, adaptive: bool = False) -> Limit:
    """A key of ``per_s`` messages per second: spaced ``1 / per_s`` apart, and at most
    ``floor(per_s * window_s)`` in any window of ``window_s`` = max(1 s, one interval)."""
    window_s = max(1.0, 1.0 / per_s)
    n = max(1, math.floor(per_s * window_s + 1e-9))
    return Limit(key, 1.0 / per_s, burst_s, n, window_s, adaptive)


def limits_for(
    bot: BotConfig,
    messenger_id: str,
    headroom: float = 1.0,
    catch_up_s: float = 0.0,
    *,
    paid: bool = False,
) -> list[Limit]:
    """The keys one send to ``messenger_id`` through ``bot`` must pass.

    Telegram: the bot's ``messages_per_second`` and per chat ``chat_messages_per_second``
    (a group, whose chat id is negative, ``group_messages_per_minute`` in windows of 60 s).
    WhatsApp: the number's ``messages_per_second`` and one message per ``seconds_per_recipient``
    to the same person. Email: ``messages_per_second``. ``headroom`` (0–1] scales the per-bot
    rate down; ``catch_up_s`` is the per-bot key's ``burst_s`` (per-chat keys stay strict).
    The bot key is adaptive (its rate is learned, AIMD); the others are not. ``paid``: a
    Telegram paid broadcast, whose bot key is one of its own (``paid_key``) at
    ``paid_messages_per_second``: Telegram counts those apart from the free 30 a second.
    """
    if paid and isinstance(bot, TelegramBotSettings):
        key, rate = paid_key(bot.name), bot.paid_messages_per_second
    else:
        key, rate = bot_key(bot.name), bot.messages_per_second
    limits = [_windowed(key, rate * headroom, catch_up_s, True)]
    chat = chat_key(bot.name, messenger_id)
    if isinstance(bot, TelegramBotSettings):
        if messenger_id.startswith("-"):
            per_minute = bot.group_messages_per_minute
            n = max(1, math.floor(per_minute))
            limits.append(Limit(chat, 60.0 / per_minute, 0.0, n, 60.0))
        else:
            limits.append(_windowed(chat, bot.chat_messages_per_second))
    elif isinstance(bot, WhatsAppBotSettings) and bot.seconds_per_recipient > 0:
        seconds = bot.seconds_per_recipient
        limits.append(Limit(chat, seconds, 0.0, 1, seconds))
    return limits


def bot_key(bot_name: str) -> str:
    return f"bot:{bot_name}"


def paid_key(bot_name: str) -> str:
    """The key of a Telegram bot's paid broadcasts (bot names hold no colon: no clash)."""
    return f"bot:{bot_name}:paid"


def chat_key(bot_name: str, messenger_id: str) -> str:
    return f"chat:{bot_name}:{messenger_id}"
