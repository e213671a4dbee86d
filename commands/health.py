"""Health per bot and per component, for the top of ``/ops`` and ``/healthz?verbose=1``.

One blocking call (``check``, run it off the loop) asks every part the way a send would need
it: a timed write to the store, a ping to the broker, the dispatcher's last tick and error
(``workers.pulse``), the worker leases renewed within ``delivery.lease_s`` (host, pid, threads,
heartbeat), the oldest queued message; per bot its ingest (``store.ingest_state``), last inbound
and last successful send, learned against configured rate, limiter pause and recent platform
errors by code. Each part that fails adds a one-line ``problem``. ``deliverable`` is False
only where the service cannot deliver at all (``/healthz`` answers 503): the store is down,
the broker is down (``redis://``), or no worker is alive (``redis://``) while messages wait.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from store.clock import from_timestamp
from store.ingest_state import IngestState
from workers.pulse import BotPulse, DispatcherPulse

# A bot whose limiter's next slot is further away than this is paused (seconds).
PAUSED_AFTER_S = 1.0
# A dispatcher silent for longer than this while it should tick has stopped (seconds).
TICK_STALE_S = 60.0
# A queued row handed to the broker this long ago must be in it (seconds): it takes
# milliseconds to get there, so only a broker that lost its data does not hold it.
LOST_AFTER_S = 10.0
# Codes about one recipient (blocked, bad chat, pair rate limit, window closed), not the bot.
RECIPIENT_CODES = frozenset({"400", "403", "blocked", "131056", "131047", "131026", "470"})


@dataclass(frozen=True, slots=True)
class WorkerSeen:
    worker_id: str
    host: str
    pid: int
    threads: int
    heartbeat_at: dt.datetime


@dataclass
class BotHealth:
    """One configured bot; times naive UTC; rates in messages/s."""

    name: str
    kind: str
    enabled: bool
    rate_limit: float
    learned_rate: float
    paused_until: dt.datetime | None
    ingest: IngestState | None
    pulse: BotPulse
    problems: list[str] = field(default_factory=list)

    @property
    def last_sent_at(self) -> dt.datetime | None:
        at = self.pulse.last_sent_at
        return from_timestamp(at) if at is not None else None

    @property
    def last_send_error_at(self) -> dt.datetime | None:
        at = self.pulse.last_error_at
        return from_timestamp(at) if at is not None else None


@dataclass
class ServiceHealth:
    """``write_ms``: the probe write's duration (None: it failed); ``oldest_queued_s``: age of
    the oldest queued outbound message in seconds (None: nothing queued or not known)."""

    broker_mode: str
    store_ok: bool
    store_state: str
    write_ms: float | None
    broker_ok: bool
    broker_state: str
    dispatcher: DispatcherPulse
    workers: list[WorkerSeen]
    oldest_queued_s: float | None
    problems: list[str] = field(default_factory=list)
    # ``redis://``: queued rows handed to the broker over ``LOST_AFTER_S`` ago that it does
    # not hold (its data was lost); None: not checked (memory mode, store or broker down).
    broker_lost: int | None = None

    @property
    def dispatcher_last_tick_at(self) -> dt.datetime | None:
        at = self.dispatcher.last_tick_at
        return from_timestamp(at) if at is not None else None


@dataclass
class Health:
    generated_at: dt.datetime
    service: ServiceHealth
    bots: list[BotHealth]
    deliverable: bool

    @property
    def ok(self) -> bool:
        return not self.service.problems and not any(b.problems for b in self.bots)

    @property
    def problems(self) -> list[str]:
        return [*self.service.problems, *(f"{b.name}: {p}" for b in self.bots for p in b.problems)]

    @property
    def status(self) -> str:
        if not self.deliverable:
            return "unavailable"
        return "ok" if self.ok else "degraded"


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


def _ts(value: float | None) -> str | None:
    return _iso(from_timestamp(value)) if value is not None else None


def to_json(h: Health) -> dict[str, Any]:
    """The ``/healthz?verbose=1`` body: times ISO 8601 UTC (``Z``), durations in s or ms."""
    s = h.service
    return {
        "status": h.status,
        "ok": h.ok,
        "deliverable": h.deliverable,
        "generated_at": _iso(h.generated_at),
        "problems": h.problems,
        "service": {
            "broker_mode": s.broker_mode,
            "store": {"ok": s.store_ok, "state": s.store_state, "write_ms": s.write_ms},
            "broker": {"ok": s.broker_ok, "state": s.broker_state},
            "dispatcher": {
                "last_tick_at": _ts(s.dispatcher.last_tick_at),
                "last_error": s.dispatcher.last_error or None,
                "last_error_at": _ts(s.dispatcher.last_error_at),
            },
            "workers": [
                {
                    "worker_id": w.worker_id,
                    "host": w.host,
                    "pid": w.pid,
                    "threads": w.threads,
                    "heartbeat_at": _iso(w.heartbeat_at),
                }
                for w in s.workers
            ],
            "oldest_queued_s": s.oldest_queued_s,
            "broker_lost": s.broker_lost,
            "last_sweep": {
                "at": _ts(s.dispatcher.last_sweep_at),
                "rows": s.dispatcher.last_sweep_rows,
            },
            "problems": s.problems,
        },
        "bots": [_bot_json(b) for b in h.bots],
    }


def _bot_json(b: BotHealth) -> dict[str, Any]:
    i = b.ingest
    return {
        "name": b.name,
        "kind": b.kind,
        "enabled": b.enabled,
        "ingest": {
            "mode": i.mode if i else None,
            "connected": i.connected if i else None,
            "last_hit_at": _iso(i.last_hit_at) if i else None,
            "last_error": (i.last_error or None) if i else None,
            "last_error_at": _iso(i.last_error_at) if i else None,
        },
        "last_inbound_at": _iso(i.last_inbound_at) if i else None,
        "last_sent_at": _iso(b.last_sent_at),
        "last_send_error": {
            "at": _iso(b.last_send_error_at),
            "code": b.pulse.last_error_code or None,
            "text": b.pulse.last_error_text or None,
        },
        "rate_limit": b.rate_limit,
        "learned_rate": round(b.learned_rate, 3),
        "paused_until": _iso(b.paused_until),
        "recent_errors": dict(sorted(b.pulse.recent_codes.items())),
        "problems": b.problems,
    }
