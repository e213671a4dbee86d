"""Each bot's ingest state, shared through the store for ``/ops`` and ``/healthz?verbose=1``.

What a channel reports: its ``mode`` (``webhook``, ``polling``, ``idle``, ``poll``), the last
sign of life (a webhook request, an answered ``getUpdates``, an IMAP pass), the last inbound
message stored and the last error. Reports land in this process's registry (a dict update under
a lock); a bot's record reaches the store (``ProjectSetting`` ``ingest:<bot>``) at most every
``FLUSH_S`` (5 s) unless its state flips between working and failing, so a webhook storm costs
one small write per bot per 5 s. Readers merge the store's records with this process's own,
which are fresher and still known while the store is down.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import asdict, dataclass
from typing import Any

import peewee

from store.clock import utcnow
from store.models import ProjectSetting
from store.project_settings import put_setting

KEY_PREFIX = "ingest:"
FLUSH_S = 5.0
ERROR_CHARS = 300
_TIMES = ("last_hit_at", "last_inbound_at", "last_error_at", "updated_at")


@dataclass(frozen=True, slots=True)
class IngestState:
    """One bot's ingest; times naive UTC. ``connected``: None for a webhook (nothing stays
    connected), else whether the poller / IMAP session works now."""

    bot: str
    mode: str
    connected: bool | None = None
    last_hit_at: dt.datetime | None = None
    last_inbound_at: dt.datetime | None = None
    last_error: str = ""
    last_error_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def failing(self) -> bool:
        """The latest event was an error (no sign of life since)."""
        if self.connected is False:
            return True
        if self.last_error_at is None:
            return False
        return self.last_hit_at is None or self.last_error_at >= self.last_hit_at

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in _TIMES:
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IngestState:
        values = {k: data.get(k) for k in ("bot", "mode", "connected", "last_error")}
        times = {k: _time(data.get(k)) for k in _TIMES}
        return cls(
            bot=str(values["bot"] or ""),
            mode=str(values["mode"] or ""),
            connected=values["connected"] if isinstance(values["connected"], bool) else None,
            last_error=str(values["last_error"] or ""),
            **times,
        )


def _time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


class _Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, IngestState] = {}
        self._flushed: dict[str, float] = {}  # bot -> time.monotonic() of its last flush

    def report(
        self,
        bot: str,
        mode: str,
        *,
        ok: bool,
        error: str = "",
        inbound: bool = False,
        connected: bool | None = None,
        now: dt.datetime | None = None,
        clock_s: float,
    ) -> IngestState | None:
        now = now or utcnow()
        with self._lock:
            old = self._states.get(bot) or IngestState(bot=bot, mode=mode)
            # One constructor call, not a dataclasses.replace per change: this runs for every
            # webhook request, and three replaces were ~8 % of serve's CPU under a webhook
            # storm (docs/benchmarks.md, item 7).
            new = IngestState(
                bot=bot,
                mode=mode,
                connected=connected,
                last_hit_at=now if ok else old.last_hit_at,
                last_inbound_at=now if inbound else old.last_inbound_at,
                last_error=old.last_error if ok else error[:ERROR_CHARS],
                last_error_at=old.last_error_at if ok else now,
                updated_at=now,
            )
            self._states[bot] = new
            due = old.failing != new.failing or old.connected != new.connected
            if due or clock_s - self._flushed.get(bot, float("-inf")) >= FLUSH_S:
                self._flushed[bot] = clock_s
                return new
            return None

    def local(self) -> dict[str, IngestState]:
        with self._lock:
            return dict(self._states)


REGISTRY = _Registry()


def report(
    bot: str,
    mode: str,
    *,
    ok: bool,
    error: str = "",
    inbound: bool = False,
    connected: bool | None = None,
) -> IngestState | None:
    """Record an ingest event of ``bot``; returns the state to ``save`` when a write is due
    (None: the store's copy is recent enough). Cheap: no I/O."""
    import time

    return REGISTRY.report(
        bot,
        mode,
        ok=ok,
        error=error,
        inbound=inbound,
        connected=connected,
        clock_s=time.monotonic(),
    )


def save(state: IngestState) -> None:
    """Write ``state`` to the store (blocking)."""
    put_setting(KEY_PREFIX + state.bot, state.to_json())


def read_states(bots: list[str]) -> dict[str, IngestState]:
    """The ingest state of each of ``bots`` that reported: the store's record or this
    process's, whichever is newer. Blocking."""
    found: dict[str, IngestState] = {}
    keys = [KEY_PREFIX + b for b in bots]
    try:
        rows = list(ProjectSetting.select().where(ProjectSetting.key.in_(keys))) if keys else []
    except peewee.DatabaseError:  # the store is down: this process's own reports still tell
        rows = []
    for row in rows:
        if isinstance(row.value, dict):
            state = IngestState.from_json(row.value)
            found[state.bot] = state
    for bot, state in REGISTRY.local().items():
        stored = found.get(bot)
        newer = stored is None or (stored.updated_at or dt.datetime.min) <= (
            state.updated_at or dt.datetime.min
        )
        if bot in bots and newer:
            found[bot] = state
    return found
