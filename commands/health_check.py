"""``check``: gather ``commands.health.Health`` now (blocking: store, Redis; run it off the loop).

Every part is asked on its own, so one that fails (the store locked, Redis gone) is reported as
that part's problem while the others are still shown.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import peewee
import redis

from commands.health import (
    LOST_AFTER_S,
    PAUSED_AFTER_S,
    RECIPIENT_CODES,
    TICK_STALE_S,
    BotHealth,
    Health,
    ServiceHealth,
    WorkerSeen,
)
from config import Settings
from store.clock import shown, utcnow
from store.errors import StoreError
from store.ingest_state import read_states
from store.leases import live_workers
from store.outbox import oldest_queued_age_s
from store.probe import handed_over_queued, has_queued, write_probe
from workers.broker import broker_state, is_memory
from workers.engine import Engine
from workers.pulse import BotPulse, DispatcherPulse
from workers.queues import depths
from workers.ratelimit import bot_key, configured_rate

STORE_ERRORS = (StoreError, peewee.PeeweeException)
LOST_COUNTED = 10_000  # rows counted beyond what the broker holds: enough to say "lost N"


def _store() -> tuple[bool, str, float | None]:
    try:
        took_s = write_probe()
    except STORE_ERRORS as exc:
        return False, f"unreachable: {exc}", None
    return True, "ok", round(took_s * 1000, 1)


def _workers(settings: Settings, now: dt.datetime) -> list[WorkerSeen]:
    try:
        leases = live_workers(settings.delivery.lease_s, now=now)
    except STORE_ERRORS:
        return []
    return [WorkerSeen(w.worker_id, w.host, w.pid, w.threads, w.heartbeat_at) for w in leases]


def _oldest(now: dt.datetime) -> float | None:
    try:
        return oldest_queued_age_s(now) if has_queued() else None
    except STORE_ERRORS:
        return None


def _broker_lost(engine: Engine, now: dt.datetime) -> int | None:
    """Queued rows handed to the broker over ``LOST_AFTER_S`` ago beyond what it holds (ready,
    fetched, delayed or dead): what it lost. None when either side cannot be asked."""
    try:
        q = depths(engine)
        held = q.ready + q.in_flight + q.delayed + q.dead
        before = now - dt.timedelta(seconds=LOST_AFTER_S)
        handed = handed_over_queued(before, limit=held + LOST_COUNTED)
    except (redis.RedisError, *STORE_ERRORS):
        return None
    return max(0, handed - held)


def _service(settings: Settings, engine: Engine | None, now: dt.datetime) -> ServiceHealth:
    memory = is_memory(settings.broker_url)
    store_ok, store_state, write_ms = _store()
    broker_ok, broker_word = broker_state(settings.broker_url)
    dispatcher = DispatcherPulse()
    if engine is not None:
        with contextlib.suppress(redis.RedisError):  # the broker's own problem says it
            dispatcher = engine.pulse.dispatcher()
    workers = _workers(settings, now)
    service = ServiceHealth(
        broker_mode="memory" if memory else f"redis ({settings.delivery.namespace})",
        store_ok=store_ok,
        store_state=store_state,
        write_ms=write_ms,
        broker_ok=broker_ok,
        broker_state=broker_word,
        dispatcher=dispatcher,
        workers=workers,
        oldest_queued_s=_oldest(now),
    )
    p = service.problems
    if not store_ok:
        p.append(f"store {store_state}")
    if not broker_ok:
        p.append(f"broker {broker_word}")
    if dispatcher.failing:
        p.append(f"dispatcher failing: {dispatcher.last_error}")
    tick = service.dispatcher_last_tick_at
    stale = tick is not None and (now - tick).total_seconds() > TICK_STALE_S
    if stale and (memory or workers):
        p.append(f"dispatcher silent since {shown(tick, settings.zone, seconds=True)}")
    if store_ok and not workers:
        p.append("no worker process alive" if not memory else "no worker threads running")
    if engine is not None and not memory and store_ok and broker_ok:
        service.broker_lost = _broker_lost(engine, now)
    if service.broker_lost:
        sweep_s = settings.delivery.stale_after_s
        p.append(
            f"broker lost {service.broker_lost} queued messages (in the store, handed to it, "
            f"not in it: its data was flushed?); the sweep re-enqueues them {sweep_s:g} s after "
            "their hand-over"
        )
    return service


def check(settings: Settings, engine: Engine | None) -> Health:
    """Health now; ``engine`` (None: not installed) gives the pulse and the limiter."""
    now = utcnow()
    service = _service(settings, engine, now)
    names = [b.name for b in settings.bots]
    try:
        states = read_states(names)
    except STORE_ERRORS:
        states = {}
    bots = []
    for cfg in settings.bots:
        configured = configured_rate(cfg, settings.delivery)
        pulse, learned, paused_until = BotPulse(), configured, None
        if engine is not None:
            try:
                pulse = engine.pulse.bot(cfg.name)
                learned = engine.limiter.bot_rate(bot_key(cfg.name)).factor * configured
                wait_s = engine.limiter.next_free_s(bot_key(cfg.name))
                if wait_s > PAUSED_AFTER_S:
                    paused_until = now + dt.timedelta(seconds=wait_s)
            except redis.RedisError:
                pass
        bot = BotHealth(
            name=cfg.name,
            kind=cfg.kind,
            enabled=cfg.enabled,
            rate_limit=configured,
            learned_rate=learned,
            paused_until=paused_until,
            ingest=states.get(cfg.name),
            pulse=pulse,
        )
        if cfg.enabled:
            _bot_problems(bot)
        bots.append(bot)
    queued = service.oldest_queued_s is not None
    deliverable = service.store_ok
    if not is_memory(settings.broker_url):
        deliverable = deliverable and service.broker_ok and (bool(service.workers) or not queued)
    return Health(now, service, bots, deliverable)


def _bot_problems(bot: BotHealth) -> None:
    ingest = bot.ingest
    if ingest is not None and ingest.failing:
        bot.problems.append(f"ingest ({ingest.mode}) failing: {ingest.last_error}")
    pulse = bot.pulse
    if pulse.failing and pulse.last_error_code not in RECIPIENT_CODES:
        first = (pulse.last_error_text.splitlines() or [""])[0]  # problems are one line
        text = f"{pulse.last_error_code}: {first}".strip(": ")
        bot.problems.append(f"sends failing: {text}")
