"""Opening the database: one ``DatabaseProxy`` every model binds to, SQLite or PostgreSQL.

SQLite runs in WAL mode with foreign keys on and a 5 s busy timeout; PostgreSQL through
psycopg 3. Timestamps are stored as naive UTC everywhere (see ``store.clock``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee
from playhouse.shortcuts import ReconnectMixin

from store.errors import StoreError
from store.write_health import WRITES

database_proxy = peewee.DatabaseProxy()

SQLITE_PRAGMAS: dict[str, object] = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": 5000,
    # 256 MiB page cache (negative = KiB), allocated as pages are read: a million clients'
    # client table is ~110 MiB and every filter that cannot stay in an index reads it.
    "cache_size": -256 * 1024,
    "temp_store": "memory",
}


class BaseModel(peewee.Model):
    # Models declare ``id = AutoField()`` themselves (peewee would add it silently) so that
    # type checkers know ``Client.id`` is a column and ``client.id`` an int.
    class Meta:
        database = database_proxy
        legacy_table_names = False


class PostgresDatabase(ReconnectMixin, peewee.PostgresqlDatabase):
    """PostgreSQL that reopens a connection the server closed (a restart, a failover, an idle
    connection killed by a proxy).

    Without this, peewee keeps the dead connection of each thread and every later query fails
    with "the connection is closed" until the process restarts. A statement outside a
    transaction is retried once on a new connection; inside a transaction the error reaches
    the caller (the transaction's earlier writes died with the connection), and the next
    statement after it reconnects.
    """

    reconnect_errors = (
        (peewee.OperationalError, "terminating connection"),  # the server shut us down
        (peewee.OperationalError, "the connection is closed"),  # psycopg 3: dead socket
        (peewee.OperationalError, "server closed the connection"),
        (peewee.OperationalError, "consuming input failed"),
        (peewee.OperationalError, "connection is lost"),
        (peewee.InterfaceError, "the connection is closed"),
        (peewee.InterfaceError, "connection already closed"),
    )


def make_database(url: str) -> peewee.Database:
    """A (not yet connected) database for ``url``: ``sqlite:///path`` or ``postgresql://...``."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = parts.path
        if url in ("sqlite://", "sqlite:///:memory:"):
            path = ":memory:"
        elif parts.netloc:  # sqlite://relative/path.db
            path = parts.netloc + parts.path
        else:  # sqlite:///relative.db -> "/relative.db"; sqlite:////abs.db -> "//abs.db"
            path = path[1:] if path.startswith("/") else path
        database = peewee.SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, check_same_thread=False)
        # SQLite's lower() and LIKE fold ASCII only; filters need every alphabet folded.
        database.register_function(_sql_lower, "sb_lower", 1, deterministic=True)
        return database
    if parts.scheme in ("postgresql", "postgres"):
        params: dict[str, Any] = dict(parse_qsl(parts.query))
        if parts.hostname:
            params["host"] = parts.hostname
        if parts.port:
            params["port"] = parts.port
        if parts.username:
            params["user"] = unquote(parts.username)
        if parts.password:
            params["password"] = unquote(parts.password)
        params.setdefault("connect_timeout", 5)
        return PostgresDatabase(unquote(parts.path.lstrip("/")), prefer_psycopg3=True, **params)
    raise StoreError(f"unsupported database URL scheme {parts.scheme!r}")


def _sql_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def open_database(url: str) -> peewee.Database:
    """Make the database for ``url``, bind every model to it and return it."""
    database = make_database(url)
    database_proxy.initialize(database)
    return database


@contextlib.contextmanager
def write_transaction() -> Iterator[None]:
    """A transaction that will write: ``BEGIN IMMEDIATE`` on SQLite, a plain one on PostgreSQL.

    SQLite cannot upgrade a read transaction to a write one while another connection writes
    (it fails at once with "database is locked", ignoring ``busy_timeout``); taking the write
    lock up front makes concurrent writers wait their turn instead. Its outcome is reported to
    ``store.write_health`` (``/healthz`` says "degraded" while writes keep failing).
    """
    if isinstance(database_proxy.obj, peewee.SqliteDatabase):
        transaction = database_proxy.atomic("IMMEDIATE")
    else:
        transaction = database_proxy.atomic()
    try:
        with transaction:
            yield
    except StoreError:
        raise
    except Exception as exc:  # a database error, or data the driver could not send
        WRITES.failed(exc)
        raise
    WRITES.succeeded()


def without_jit() -> None:
    """PostgreSQL: no JIT compilation for the rest of the current transaction. The planner
    compiles big set-based statements (a correlated ``EXISTS`` per client lifts the estimated
    cost past ``jit_above_cost``) and the compiling took longer than the running (a campaign's
    audience freeze: 2 s of 12, docs/benchmarks.md). SQLite: nothing."""
    if is_postgres():
        database_proxy.execute_sql("SET LOCAL jit = off")


def is_postgres(database: peewee.Database | None = None) -> bool:
    db = database if database is not None else database_proxy.obj
    return isinstance(db, peewee.PostgresqlDatabase)


def execute_text(sql: str, params: Sequence[Any] = ()) -> Any:
    """Run one statement written with ``?`` placeholders on either database (PostgreSQL's
    driver takes ``%s``): the statements of constant text that have no model (an import's
    staging, the deferred indexes' records). Returns the cursor."""
    if is_postgres():
        sql = sql.replace("?", "%s")
    return database_proxy.obj.execute_sql(sql, list(params))


def ping(database: peewee.Database | None = None) -> None:
    """Run ``SELECT 1``; raises ``StoreUnavailable`` when the database cannot answer."""
    from store.errors import StoreUnavailable

    db = database if database is not None else database_proxy
    try:
        db.execute_sql("SELECT 1").fetchone()
    except peewee.PeeweeException as exc:
        raise StoreUnavailable(
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        ) from exc
