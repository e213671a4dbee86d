"""Signs of life of the delivery side for ``/ops`` and ``/healthz?verbose=1``.

Per bot: when its last send succeeded, its last send error (platform code and text) and how
many errors of each code it had in the last ``RECENT_S`` (15 min); for the dispatcher: its last
tick and last error, and its latest sweep that handed rows back to the broker. In ``redis://``
mode these live in Redis (``<namespace>:pulse:*``) so the web process sees what every worker
process did, the dispatcher's error included when the store is what fails; in ``memory://``
mode in this process. Times are Unix seconds. Successful sends and ticks are written at most
once a second per bot per process; errors every time (they are what an engineer looks for).
A Redis that cannot take a write costs the pulse, never a send.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Protocol

import redis

log = logging.getLogger("switchboard.delivery")

RECENT_S = 900.0
THROTTLE_S = 1.0
TEXT_CHARS = 300


@dataclass(frozen=True, slots=True)
class BotPulse:
    """``last_sent_at`` / ``last_error_at``: Unix seconds (None: never); ``recent_codes``:
    errors per platform code in the last ``RECENT_S`` seconds."""

    last_sent_at: float | None = None
    last_error_at: float | None = None
    last_error_code: str = ""
    last_error_text: str = ""
    recent_codes: dict[str, int] = field(default_factory=dict)

    @property
    def failing(self) -> bool:
        """Its latest send attempt failed (nothing went through since)."""
        if self.last_error_at is None:
            return False
        return self.last_sent_at is None or self.last_error_at > self.last_sent_at


@dataclass(frozen=True, slots=True)
class DispatcherPulse:
    """``last_tick_at``: Unix seconds of the last tick that went through (None: none seen)."""

    last_tick_at: float | None = None
    last_error: str = ""
    last_error_at: float | None = None
    # The latest sweep that handed rows back to the broker (lost by it, or stuck): when, how many.
    last_sweep_at: float | None = None
    last_sweep_rows: int = 0

    @property
    def failing(self) -> bool:
        if self.last_error_at is None:
            return False
        return self.last_tick_at is None or self.last_error_at > self.last_tick_at


class Pulse(Protocol):
    def sent(self, bot: str) -> None:
        """A send of ``bot`` went through."""

    def error(self, bot: str, code: str, text: str) -> None:
        """A send of ``bot`` failed or will be retried with the platform's ``code``."""

    def tick(self, error: str | None = None) -> None:
        """A dispatcher tick finished (``error``: it failed, one line)."""

    def swept(self, rows: int) -> None:
        """The dispatcher's sweep handed ``rows`` stuck or lost rows to the broker again."""

    def bot(self, name: str) -> BotPulse: ...

    def dispatcher(self) -> DispatcherPulse: ...


class _Throttle:
    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def due(self, key: str, now: float) -> bool:
        if now - self._last.get(key, float("-inf")) < THROTTLE_S:
            return False
        self._last[key] = now
        return True


class MemoryPulse:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bots: dict[str, dict[str, object]] = {}
        self._codes: dict[str, list[tuple[float, str]]] = {}
        self._dispatcher = DispatcherPulse()

    def sent(self, bot: str) -> None:
        with self._lock:
            self._bots.setdefault(bot, {})["sent"] = time.time()

    def error(self, bot: str, code: str, text: str) -> None:
        now = time.time()
        with self._lock:
            self._bots.setdefault(bot, {}).update(error=now, code=code, text=text[:TEXT_CHARS])
            codes = [c for c in self._codes.get(bot, []) if c[0] >= now - RECENT_S]
            self._codes[bot] = [*codes, (now, code)]

    def tick(self, error: str | None = None) -> None:
        now = time.time()
        with self._lock:
            d = self._dispatcher
            if error is None:
                self._dispatcher = replace(d, last_tick_at=now)
            else:
                self._dispatcher = replace(d, last_error=error[:TEXT_CHARS], last_error_at=now)

    def swept(self, rows: int) -> None:
        with self._lock:
            self._dispatcher = replace(
                self._dispatcher, last_sweep_at=time.time(), last_sweep_rows=rows
            )

    def bot(self, name: str) -> BotPulse:
        cutoff = time.time() - RECENT_S
        with self._lock:
            b = dict(self._bots.get(name, {}))
            codes: dict[str, int] = {}
            for at, code in self._codes.get(name, []):
                if at >= cutoff:
                    codes[code] = codes.get(code, 0) + 1
        return _bot_pulse(b, codes)

    def dispatcher(self) -> DispatcherPulse:
        with self._lock:
            return self._dispatcher


def _bot_pulse(b: dict[str, object], codes: dict[str, int]) -> BotPulse:
    def number(key: str) -> float | None:
        value = b.get(key)
        return float(value) if isinstance(value, (int, float, str, bytes)) and value else None

    return BotPulse(
        last_sent_at=number("sent"),
        last_error_at=number("error"),
        last_error_code=_text(b.get("code")),
        last_error_text=_text(b.get("text")),
        recent_codes=codes,
    )


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return "" if value is None else str(value)


class RedisPulse:
    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self.client = client
        self.prefix = f"{namespace}:pulse"
        self._throttle = _Throttle()
        self._lock = threading.Lock()

    def _due(self, key: str) -> bool:
        with self._lock:
            return self._throttle.due(key, time.monotonic())

    def sent(self, bot: str) -> None:
        if self._due(f"sent:{bot}"):
            self._write(lambda p: p.hset(f"{self.prefix}:bot:{bot}", "sent", time.time()))

    def error(self, bot: str, code: str, text: str) -> None:
        now = time.time()
        codes = f"{self.prefix}:codes:{bot}"

        def write(p: redis.client.Pipeline) -> None:
            fields = {"error": now, "code": code, "text": text[:TEXT_CHARS]}
            p.hset(f"{self.prefix}:bot:{bot}", mapping=fields)  # type: ignore[arg-type]
            p.zadd(codes, {f"{code}|{now}|{secrets.token_hex(4)}": now})
            p.zremrangebyscore(codes, "-inf", now - RECENT_S)
            p.expire(codes, int(RECENT_S) + 60)

        self._write(write)

    def tick(self, error: str | None = None) -> None:
        key = f"{self.prefix}:dispatcher"
        if error is None:
            if self._due("tick"):
                self._write(lambda p: p.hset(key, "tick", time.time()))
        else:
            fields = {"error": error[:TEXT_CHARS], "error_at": time.time()}
            self._write(lambda p: p.hset(key, mapping=fields))

    def swept(self, rows: int) -> None:
        fields = {"swept_at": time.time(), "swept": rows}
        self._write(lambda p: p.hset(f"{self.prefix}:dispatcher", mapping=fields))

    def _write(self, fill: object) -> None:
        try:
            pipe = self.client.pipeline(transaction=False)
            fill(pipe)  # type: ignore[operator]
            pipe.execute()
        except redis.RedisError as exc:
            log.debug("pulse not recorded: %s", exc)

    def bot(self, name: str) -> BotPulse:
        raw: dict[bytes, bytes] = self.client.hgetall(f"{self.prefix}:bot:{name}")  # type: ignore[assignment]
        members: list[bytes] = self.client.zrangebyscore(  # type: ignore[assignment]
            f"{self.prefix}:codes:{name}", time.time() - RECENT_S, "+inf"
        )
        codes: dict[str, int] = {}
        for member in members:
            code = member.decode(errors="replace").split("|", 1)[0]
            codes[code] = codes.get(code, 0) + 1
        return _bot_pulse({k.decode(): v for k, v in raw.items()}, codes)

    def dispatcher(self) -> DispatcherPulse:
        raw: dict[bytes, bytes] = self.client.hgetall(f"{self.prefix}:dispatcher")  # type: ignore[assignment]
        tick, error_at = raw.get(b"tick"), raw.get(b"error_at")
        swept_at, swept = raw.get(b"swept_at"), raw.get(b"swept")
        return DispatcherPulse(
            last_tick_at=float(tick) if tick else None,
            last_error=_text(raw.get(b"error")),
            last_error_at=float(error_at) if error_at else None,
            last_sweep_at=float(swept_at) if swept_at else None,
            last_sweep_rows=int(swept) if swept else 0,
        )
