"""What the health checks ask the store: can it take a write, and is anything waiting to go.

``write_probe`` upserts one ``ProjectSetting`` row (``health:probe``) and returns how long that
took. It waits at most ``timeout_s`` for a lock (SQLite's busy timeout, PostgreSQL's
``lock_timeout``) so a store that is locked by someone else reads as failing within seconds
instead of hanging the health page.
"""

from __future__ import annotations

import datetime as dt
import time

import peewee

from store.clock import utcnow
from store.db import database_proxy
from store.errors import StoreUnavailable
from store.models import Message
from store.project_settings import put_setting

PROBE_KEY = "health:probe"
SQLITE_BUSY_MS = 5000  # store.db's busy_timeout, put back after the probe


def write_probe(timeout_s: float = 2.0) -> float:
    """Write one row; returns the seconds it took. Raises ``StoreUnavailable`` (one line) when
    the database cannot take it within ``timeout_s`` seconds (default 2) or at all."""
    db = database_proxy.obj
    wait_ms = max(1, int(timeout_s * 1000))
    started = time.perf_counter()
    try:
        if isinstance(db, peewee.PostgresqlDatabase):
            with database_proxy.atomic():
                # SET takes no bound parameters; wait_ms is an int we computed.
                database_proxy.execute_sql(f"SET LOCAL lock_timeout = {wait_ms}")
                database_proxy.execute_sql(f"SET LOCAL statement_timeout = {wait_ms}")
                put_setting(PROBE_KEY, utcnow().isoformat())
        else:
            database_proxy.execute_sql(f"PRAGMA busy_timeout = {wait_ms}")
            try:
                put_setting(PROBE_KEY, utcnow().isoformat())
            finally:
                database_proxy.execute_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
    except peewee.PeeweeException as exc:
        text = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreUnavailable(f"write failed: {text}") from exc
    return time.perf_counter() - started


def has_queued() -> bool:
    """Whether any outbound row is ``queued`` (the lanes' index answers it)."""
    query = Message.select(Message.id).where(
        (Message.status == "queued") & (Message.direction == "out")
    )
    return bool(query.exists())


def handed_over_queued(before: dt.datetime, *, limit: int) -> int:
    """Outbound rows ``queued`` and handed to the broker before ``before`` (``updated_at``
    stamped at or after their due time, or due at once), counted up to ``limit``: what the
    broker must still hold, unless it lost them (``commands.health_check``)."""
    handed = Message.next_attempt_at.is_null() | (Message.updated_at >= Message.next_attempt_at)
    rows = (
        Message.select(Message.id)
        .where(
            (Message.status == "queued")
            & (Message.direction == "out")
            & (Message.updated_at < before)
            & handed
        )
        .limit(limit)
    )
    return int(rows.count())
