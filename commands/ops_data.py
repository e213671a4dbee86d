"""Everything the ops dashboard shows, gathered in one blocking call (run it off the loop).

The numbers come from where every process can see them: the outbox and jobs from the store,
the counters and send rates from the engine's ``Stats`` (Redis in ``redis://`` mode, so the
web process shows what all ``switchboard worker`` processes did), the limiter's next free slot
and learned rate of each bot and the broker's queues from the broker itself.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from commands.ops_campaigns import CampaignLine, campaign_lines
from config import Settings
from store import jobs, leases, outbox
from store.clock import utcnow
from store.models import Bot, Client, Message, UnparsedItem
from store.unparsed import recent_unparsed
from workers.engine import Engine
from workers.history import SCALES, Series
from workers.queues import DeadLetter, QueueDepths, dead_letters, depths
from workers.ratelimit import bot_key, configured_rate

FINISHED_JOBS_SHOWN = 5
ERRORS_SHOWN = 50
EXCERPT_CHARS = 80  # characters of a message's text shown beside its error
UNPARSED_SHOWN = 20
# The error list's time windows: the query parameter's value -> seconds.
WINDOWS = {"15m": 15 * 60, "1h": 3600, "24h": 24 * 3600, "7d": 7 * 24 * 3600}
CODE_CHARS = 64  # Message.error_code's column
# A bot whose next free slot is further away than this is shown as paused (a 429's pause).
PAUSED_AFTER_S = 1.0


@dataclass(frozen=True, slots=True)
class BotRow:
    """One configured bot: ``rate_limit`` (messages/s configured), ``learned_rate`` (messages/s
    the limiter paces it at after the platform's 429s), ``rate_now`` (sent per second over the
    last 10 s), ``next_slot_s`` (seconds until the limiter lets its next send go), the bot-wide
    429s the limiter counted (``refusals``), seconds since the last (None: none) and the
    retry-afters of the latest rate cuts (seconds)."""

    name: str
    kind: str
    enabled: bool
    rate_limit: float
    learned_rate: float
    rate_now: float
    next_slot_s: float
    sent: int
    failed: int
    retried: int
    refusals: int = 0
    last_429_ago_s: float | None = None
    recent_retry_after_s: tuple[float, ...] = ()

    @property
    def refusals_text(self) -> str:
        if not self.refusals or self.last_429_ago_s is None:
            return "none"
        series = ", ".join(f"{s:g}" for s in self.recent_retry_after_s)
        return f"{self.refusals}, last {self.last_429_ago_s:.0f} s ago (retry after {series} s)"

    @property
    def limiter_state(self) -> str:
        if self.next_slot_s > PAUSED_AFTER_S:
            return f"paused {self.next_slot_s:.1f} s"
        if self.next_slot_s > 0:
            return f"next slot in {self.next_slot_s * 1000:.0f} ms"
        return "free"


@dataclass(frozen=True, slots=True)
class DeadRow:
    letter: DeadLetter
    status: str | None  # the outbox row's status; None when the row is gone


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """A failed or retried send: ``at`` its last error (naive UTC), ``attempts`` made so far,
    ``next_attempt_at`` when a retried row goes again (None: failed for good), ``excerpt`` the
    start of the message's text."""

    message_id: int
    at: dt.datetime
    bot: str
    client_id: int
    client_name: str
    excerpt: str
    status: str
    code: str
    text: str
    attempts: int
    next_attempt_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ErrorFilter:
    """What the error list shows: only ``bot``'s, only code ``code``, only the last ``window``
    (a key of ``WINDOWS``); None: all."""

    bot: str | None = None
    code: str | None = None
    window: str | None = None

    def since(self, now: dt.datetime) -> dt.datetime | None:
        if self.window is None:
            return None
        return now - dt.timedelta(seconds=WINDOWS[self.window])

    @property
    def active(self) -> bool:
        return any((self.bot, self.code, self.window))


def error_filter(query: Mapping[str, str], bots: list[str]) -> ErrorFilter:
    """The filter of ``/ops?bot=..&code=..&window=..`` (empty values mean all); raises
    ``ValueError`` with one line naming what was wrong."""
    bot = query.get("bot", "").strip() or None
    code = query.get("code", "").strip() or None
    window = query.get("window", "").strip() or None
    if bot is not None and bot not in bots:
        raise ValueError(f"unknown bot {bot!r}: the configured bots are {', '.join(bots)}")
    if code is not None and len(code) > CODE_CHARS:
        raise ValueError(f"an error code is at most {CODE_CHARS} characters")
    if window is not None and window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}: use one of {', '.join(WINDOWS)}")
    return ErrorFilter(bot, code, window)


@dataclass
class WorkerRow:
    """A sending process with a live lease (``store.leases``): ``heartbeat_age_s`` since its
    last renewal, ``sending`` rows it holds."""

    worker_id: str
    started_at: dt.datetime
    heartbeat_age_s: float
    sending: int
    threads: int = 0


@dataclass
class OpsView:
    generated_at: dt.datetime
    broker: str
    zone: dt.tzinfo = dt.UTC  # the project's: every time on the page is shown in it
    bots: list[BotRow] = field(default_factory=list)
    queues: QueueDepths = field(default_factory=lambda: QueueDepths(0, 0, 0, 0))
    outbox: dict[str, int] = field(default_factory=dict)
    active_jobs: list[jobs.Progress] = field(default_factory=list)
    finished_jobs: list[jobs.Progress] = field(default_factory=list)
    dead: list[DeadRow] = field(default_factory=list)
    errors: list[ErrorRow] = field(default_factory=list)
    unparsed: list[UnparsedItem] = field(default_factory=list)  # newest first
    workers: list[WorkerRow] = field(default_factory=list)
    # bot -> its series on each of ``workers.history.SCALES`` (the charts)
    history: dict[str, list[Series]] = field(default_factory=dict)
    error_filter: ErrorFilter = ErrorFilter()
    error_codes: list[str] = field(default_factory=list)  # every code rows carry, for the form
    campaigns: list[CampaignLine] = field(default_factory=list)  # the latest, newest first


def _bot_rows(settings: Settings, engine: Engine) -> list[BotRow]:
    counters = engine.stats.snapshot().counters
    totals: dict[tuple[str, str], int] = {}
    for (outcome, bot, _reason), n in counters.items():
        totals[(outcome, bot)] = totals.get((outcome, bot), 0) + n
    rows = []
    for cfg in settings.bots:
        learned = engine.limiter.bot_rate(bot_key(cfg.name))
        rows.append(
            BotRow(
                name=cfg.name,
                kind=cfg.kind,
                enabled=cfg.enabled,
                rate_limit=configured_rate(cfg, settings.delivery),
                learned_rate=learned.factor * configured_rate(cfg, settings.delivery),
                rate_now=engine.stats.rate(cfg.name),
                next_slot_s=engine.limiter.next_free_s(bot_key(cfg.name)),
                sent=totals.get(("sent", cfg.name), 0),
                failed=totals.get(("failed", cfg.name), 0),
                retried=totals.get(("retried", cfg.name), 0),
                refusals=learned.refusals,
                last_429_ago_s=learned.last_429_ago_s,
                recent_retry_after_s=learned.recent_retry_after_s,
            )
        )
    return rows


def _dead_rows(engine: Engine) -> list[DeadRow]:
    letters = dead_letters(engine)
    ids = [d.outbox_id for d in letters if d.outbox_id is not None]
    statuses: dict[int, str] = {}
    if ids:
        rows: Any = Message.select(Message.id, Message.status).where(Message.id.in_(ids)).tuples()
        statuses = dict(rows)
    return [DeadRow(d, statuses.get(d.outbox_id or 0)) for d in letters]


def error_rows(wanted: ErrorFilter, job_id: int | None = None) -> list[ErrorRow]:
    """The newest ``ERRORS_SHOWN`` failed and retried sends as ``wanted`` (of job ``job_id``
    only, when given), with their bots' and clients' names."""
    names = {b.id: b.name for b in Bot.select(Bot.id, Bot.name)}
    bot_id = None
    if wanted.bot is not None:
        bot_id = next((i for i, name in names.items() if name == wanted.bot), None)
        if bot_id is None:
            return []  # configured, never synced to the store: it has no rows
    since = wanted.since(utcnow())
    rows = outbox.latest_errors(
        ERRORS_SHOWN, bot_id=bot_id, code=wanted.code, since=since, job_id=job_id
    )
    ids = {m.client_id for m in rows}
    clients: Any = Client.select(Client.id, Client.name).where(Client.id.in_(ids)).tuples()
    client_names = dict(clients) if ids else {}
    return [
        ErrorRow(
            message_id=m.id,
            at=m.updated_at,
            bot=names.get(m.bot_id, "?"),
            client_id=m.client_id,
            client_name=client_names.get(m.client_id, ""),
            excerpt=_excerpt(m.text),
            status=m.status or "",
            code=m.error_code or "",
            text=m.error_text or "",
            attempts=m.attempts,
            next_attempt_at=m.next_attempt_at if m.status == "queued" else None,
        )
        for m in rows
    ]


def _excerpt(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"


def worker_rows(settings: Settings) -> list[WorkerRow]:
    """The live worker leases, oldest first, with the rows each is sending."""
    now = utcnow()
    sending = leases.sending_by_worker()
    return [
        WorkerRow(
            w.worker_id,
            w.started_at,
            max(0.0, (now - w.heartbeat_at).total_seconds()),
            sending.get(w.worker_id, 0),
            w.threads,
        )
        for w in leases.live_workers(settings.delivery.lease_s, now=now)
    ]


def history(
    settings: Settings, engine: Engine, now_s: float | None = None
) -> dict[str, list[Series]]:
    """Every configured bot's series on every scale (``workers.history``)."""
    now_s = time.time() if now_s is None else now_s
    names = [b.name for b in settings.bots]
    by_scale = [engine.stats.history.series(names, scale, now_s) for scale in SCALES]
    return {name: [found[name] for found in by_scale] for name in names}


def collect(settings: Settings, engine: Engine, wanted: ErrorFilter = ErrorFilter()) -> OpsView:
    """The dashboard's data now, the errors as ``wanted``. Blocking: store, Redis."""
    recent = jobs.list_jobs(limit=50)
    active = [p for p in recent if p.state in jobs.ACTIVE_STATES]
    finished = [p for p in recent if p.state not in jobs.ACTIVE_STATES][:FINISHED_JOBS_SHOWN]
    return OpsView(
        generated_at=utcnow(),
        zone=settings.zone,
        broker="memory" if engine.redis is None else f"redis ({settings.delivery.namespace})",
        bots=_bot_rows(settings, engine),
        queues=depths(engine),
        outbox=outbox.counts_by_status(),
        active_jobs=active,
        finished_jobs=finished,
        dead=_dead_rows(engine),
        errors=error_rows(wanted),
        error_filter=wanted,
        error_codes=outbox.error_codes(),
        unparsed=recent_unparsed(UNPARSED_SHOWN),
        workers=worker_rows(settings),
        history=history(settings, engine),
        campaigns=campaign_lines(),
    )
