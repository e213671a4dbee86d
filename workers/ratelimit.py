"""Send pacing shared by every worker: per-bot and per-chat slots, in Redis or in memory.

Each limit is a key with an emission interval (``interval_s`` = 1 / rate). A key holds the
earliest time its next message may go (its "theoretical arrival time", GCRA without burst).
``acquire`` looks at all keys of one send at once (bot and chat), finds the first instant every
one of them allows, and — when that is at most ``max_wait_s`` away — reserves it on every key
and returns the wait. Reserving before sleeping is what keeps a broadcast running *at* the limit
with any number of worker threads and processes: each sender gets its own future slot, evenly
spaced, instead of all of them polling and colliding.

Redis mode runs one Lua script with Redis' own clock (``TIME``), so processes on several
machines share one timeline. Memory mode does the same under a lock with ``time.monotonic``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

import redis

from config import EmailBotSettings, TelegramBotSettings, WhatsAppBotSettings

BotConfig = TelegramBotSettings | WhatsAppBotSettings | EmailBotSettings


@dataclass(frozen=True, slots=True)
class Limit:
    """One pacing key: ``key`` and its emission interval ``interval_s`` (seconds)."""

    key: str
    interval_s: float


@dataclass(frozen=True, slots=True)
class Grant:
    """The answer of ``acquire``: ``granted`` with ``wait_s`` to sleep, or refused with the
    wait that would have been needed (seconds)."""

    granted: bool
    wait_s: float


class Limiter(Protocol):
    def acquire(self, limits: list[Limit], max_wait_s: float) -> Grant: ...

    def pause(self, key: str, seconds: float) -> None: ...

    def next_free_s(self, key: str) -> float: ...


def limits_for(bot: BotConfig, messenger_id: str, headroom: float = 1.0) -> list[Limit]:
    """The keys one send to ``messenger_id`` through ``bot`` must pass.

    Telegram: the bot's ``messages_per_second`` and per chat ``chat_messages_per_second``
    (a group, whose chat id is negative, ``group_messages_per_minute``). WhatsApp: the number's
    ``messages_per_second`` and ``seconds_per_recipient``. Email: ``messages_per_second``.
    ``headroom`` (0–1] scales the per-bot rate down, for platforms that count strictly.
    """
    limits = [Limit(bot_key(bot.name), 1.0 / (bot.messages_per_second * headroom))]
    if isinstance(bot, TelegramBotSettings):
        if messenger_id.startswith("-"):
            interval = 60.0 / bot.group_messages_per_minute
        else:
            interval = 1.0 / bot.chat_messages_per_second
        limits.append(Limit(chat_key(bot.name, messenger_id), interval))
    elif isinstance(bot, WhatsAppBotSettings) and bot.seconds_per_recipient > 0:
        limits.append(Limit(chat_key(bot.name, messenger_id), bot.seconds_per_recipient))
    return limits


def bot_key(bot_name: str) -> str:
    return f"bot:{bot_name}"


def chat_key(bot_name: str, messenger_id: str) -> str:
    return f"chat:{bot_name}:{messenger_id}"


class MemoryLimiter:
    """The limiter of one process (``memory://`` mode): worker threads share it."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def acquire(self, limits: list[Limit], max_wait_s: float) -> Grant:
        with self._lock:
            now = time.monotonic()
            start = max([now, *(self._next.get(limit.key, 0.0) for limit in limits)])
            wait = start - now
            if wait > max_wait_s:
                return Grant(False, wait)
            for limit in limits:
                self._next[limit.key] = start + limit.interval_s
            if len(self._next) > 100_000:  # forget chats whose slot has long passed
                self._next = {k: v for k, v in self._next.items() if v > now}
            return Grant(True, wait)

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            self._next[key] = max(self._next.get(key, 0.0), until)

    def next_free_s(self, key: str) -> float:
        with self._lock:
            return max(0.0, self._next.get(key, 0.0) - time.monotonic())


# KEYS: the limit keys. ARGV[1]: max wait (ms); ARGV[1+i]: interval of KEYS[i] (ms).
# Returns {granted (0/1), wait in ms as a string} (Lua numbers would be truncated to integers).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local start = now
for i = 1, #KEYS do
  local nxt = tonumber(redis.call('GET', KEYS[i]) or '0')
  if nxt > start then start = nxt end
end
local wait = start - now
if wait > tonumber(ARGV[1]) then return {0, tostring(wait)} end
for i = 1, #KEYS do
  local nxt = start + tonumber(ARGV[i + 1])
  redis.call('SET', KEYS[i], string.format('%.3f', nxt), 'PX', math.ceil(nxt - now) + 60000)
end
return {1, tostring(wait)}
"""

# KEYS[1]: the key to pause. ARGV[1]: pause (ms).
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local untl = now + tonumber(ARGV[1])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if nxt > untl then untl = nxt end
redis.call('SET', KEYS[1], string.format('%.3f', untl), 'PX', math.ceil(untl - now) + 60000)
return tostring(untl - now)
"""

_NEXT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
return tostring(nxt - now)
"""


class RedisLimiter:
    """The limiter every worker process shares (``redis://`` mode); keys under ``prefix``."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)
        self._pause = client.register_script(_PAUSE)
        self._next = client.register_script(_NEXT)

    def _key(self, key: str) -> str:
        return f"{self.prefix}:rl:{key}"

    def acquire(self, limits: list[Limit], max_wait_s: float) -> Grant:
        granted, wait_ms = self._acquire(
            keys=[self._key(limit.key) for limit in limits],
            args=[max_wait_s * 1000, *(limit.interval_s * 1000 for limit in limits)],
        )
        return Grant(bool(int(granted)), max(0.0, float(wait_ms) / 1000))

    def pause(self, key: str, seconds: float) -> None:
        self._pause(keys=[self._key(key)], args=[seconds * 1000])

    def next_free_s(self, key: str) -> float:
        return max(0.0, float(self._next(keys=[self._key(key)])) / 1000)
