"""Send pacing shared by every worker: per-bot and per-chat slots, in Redis or in memory.

Each limit is a key with an emission interval (``interval_s`` = 1 / rate) and a catch-up
tolerance (``burst_s``). A key holds its "theoretical arrival time" (TAT, GCRA): where the
next message would go if sends had followed each other exactly ``interval_s`` apart. A send may
go ``burst_s`` before the TAT; it moves the TAT one interval on. With ``burst_s`` = 0 messages
are strictly evenly spaced; with ``burst_s`` > 0 a sender that stalled (a busy machine, a slow
database call) makes up to ``burst_s`` of lost time with a short burst of ``burst_s /
interval_s`` messages, instead of losing that time for good — which is what keeps a long
broadcast at the limit rather than a few per cent under it. Platforms count with token buckets
of about one second of capacity, so a burst of a fraction of a second stays within them.

``acquire`` looks at all keys of one send at once (bot and chat), finds the first instant every
one of them allows, and — when that is at most ``max_wait_s`` away — reserves it on every key
and returns the wait. Reserving before sleeping is what keeps a broadcast running *at* the limit
with any number of worker threads and processes: each sender gets its own future slot, evenly
spaced, instead of all of them polling and colliding. ``pause`` (a platform's retry-after) is
kept apart from the TAT and holds every send of the key until it ends, burst or not.

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
    """One pacing key: ``key``, its emission interval ``interval_s`` and the catch-up
    tolerance ``burst_s`` (seconds; 0: strict spacing)."""

    key: str
    interval_s: float
    burst_s: float = 0.0


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


def limits_for(
    bot: BotConfig, messenger_id: str, headroom: float = 1.0, catch_up_s: float = 0.0
) -> list[Limit]:
    """The keys one send to ``messenger_id`` through ``bot`` must pass.

    Telegram: the bot's ``messages_per_second`` and per chat ``chat_messages_per_second``
    (a group, whose chat id is negative, ``group_messages_per_minute``). WhatsApp: the number's
    ``messages_per_second`` and ``seconds_per_recipient``. Email: ``messages_per_second``.
    ``headroom`` (0–1] scales the per-bot rate down, for platforms that count strictly;
    ``catch_up_s`` is the per-bot key's ``burst_s`` (per-chat keys stay strict).
    """
    limits = [Limit(bot_key(bot.name), 1.0 / (bot.messages_per_second * headroom), catch_up_s)]
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
        self._tat: dict[str, float] = {}
        self._paused: dict[str, float] = {}
        self._lock = threading.Lock()

    def acquire(self, limits: list[Limit], max_wait_s: float) -> Grant:
        with self._lock:
            now = time.monotonic()
            start = now
            for limit in limits:
                start = max(
                    start,
                    self._tat.get(limit.key, 0.0) - limit.burst_s,
                    self._paused.get(limit.key, 0.0),
                )
            wait = start - now
            if wait > max_wait_s:
                return Grant(False, wait)
            for limit in limits:
                self._tat[limit.key] = max(self._tat.get(limit.key, 0.0), start) + limit.interval_s
            if len(self._tat) > 100_000:  # forget chats whose slot has long passed
                self._tat = {k: v for k, v in self._tat.items() if v > now}
                self._paused = {k: v for k, v in self._paused.items() if v > now}
            return Grant(True, wait)

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            self._paused[key] = max(self._paused.get(key, 0.0), until)

    def next_free_s(self, key: str) -> float:
        with self._lock:
            now = time.monotonic()
            return max(0.0, self._tat.get(key, 0.0) - now, self._paused.get(key, 0.0) - now)


# KEYS: the limit keys (their pauses are KEYS[i] .. ':pause'). ARGV[1]: max wait (ms);
# ARGV[2i], ARGV[2i+1]: interval and burst of KEYS[i] (ms).
# Returns {granted (0/1), wait in ms as a string} (Lua numbers would be truncated to integers).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local start = now
local tats = {}
for i = 1, #KEYS do
  tats[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  local allowed = tats[i] - tonumber(ARGV[2 * i + 1])
  if allowed > start then start = allowed end
  local paused = tonumber(redis.call('GET', KEYS[i] .. ':pause') or '0')
  if paused > start then start = paused end
end
local wait = start - now
if wait > tonumber(ARGV[1]) then return {0, tostring(wait)} end
for i = 1, #KEYS do
  local tat = tats[i]
  if start > tat then tat = start end
  tat = tat + tonumber(ARGV[2 * i])
  redis.call('SET', KEYS[i], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 60000)
end
return {1, tostring(wait)}
"""

# KEYS[1]: the key to pause. ARGV[1]: pause (ms).
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local untl = now + tonumber(ARGV[1])
local key = KEYS[1] .. ':pause'
local nxt = tonumber(redis.call('GET', key) or '0')
if nxt > untl then untl = nxt end
redis.call('SET', key, string.format('%.3f', untl), 'PX', math.ceil(untl - now) + 60000)
return tostring(untl - now)
"""

_NEXT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local paused = tonumber(redis.call('GET', KEYS[1] .. ':pause') or '0')
if paused > tat then tat = paused end
return tostring(tat - now)
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
            args=[
                max_wait_s * 1000,
                *(ms for limit in limits for ms in (limit.interval_s * 1000, limit.burst_s * 1000)),
            ],
        )
        return Grant(bool(int(granted)), max(0.0, float(wait_ms) / 1000))

    def pause(self, key: str, seconds: float) -> None:
        self._pause(keys=[self._key(key)], args=[seconds * 1000])

    def next_free_s(self, key: str) -> float:
        return max(0.0, float(self._next(keys=[self._key(key)])) / 1000)
