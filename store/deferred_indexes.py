"""Secondary indexes built once at the end of a big import instead of row by row (issue 14
item 6, migration 1930).

Importing a million clients into an empty store spent most of the database's work keeping the
non-unique indexes of ``client``, ``variable``, ``block_history`` (and ``client_search``'s
trigram indexes on PostgreSQL) in step, one entry per row; ``CREATE INDEX`` over the finished
table sorts once. ``defer`` drops them and records each definition in ``deferred_index`` in
the same transaction; ``restore`` recreates them, each in its own transaction together with
the deletion of its row, so whatever moment a crash comes, an index is either in the store or
recorded there. The unique indexes and primary keys stay: the import finds clients and
upserts variables through them, and they are what keeps the data right.

The indexes are not listed here: they are read from the database (``PRAGMA index_list``,
``pg_index``), so a migration that adds, drops or narrows one needs nothing here. A killed
import leaves its rows: the next import (before its first batch), ``migrate`` (before any
migration, which may expect the indexes) and the outbox dispatcher's tick once no batch has
touched them for ``ABANDONED_S`` (``restore_abandoned``) recreate them.

While deferred, the filters on the deferred columns scan their tables; the catch-up at the end
holds each table's write lock for the build (SQLite: ~1-2 s per index at a million rows).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from store.clients.search_index import ABANDONED_S
from store.db import database_proxy, execute_text, is_postgres, write_transaction

# The tables an import writes (with client_search, which PostgreSQL's triggers fill from client).
IMPORTED_TABLES: Final = ("client", "client_search", "variable", "block_history")
_CREATE: Final = re.compile(r"^\s*CREATE\s+INDEX\s+(IF\s+NOT\s+EXISTS\s+)?", re.IGNORECASE)

SQLITE_INDEXES: Final = (
    "SELECT il.name, m.sql FROM pragma_index_list(?) AS il "
    "JOIN sqlite_master AS m ON m.type = 'index' AND m.name = il.name "
    "WHERE il.\"unique\" = 0 AND il.origin = 'c' AND m.sql IS NOT NULL ORDER BY il.name"
)
POSTGRES_INDEXES: Final = (
    "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index AS i "
    "JOIN pg_class AS c ON c.oid = i.indexrelid "
    "WHERE i.indrelid = to_regclass(%s) AND NOT i.indisunique AND NOT i.indisprimary "
    "AND i.indisvalid AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = c.oid) "
    "ORDER BY c.relname"
)

NEXT: Final = "SELECT name, definition FROM deferred_index ORDER BY name LIMIT 1"
NEXT_FREE: Final = NEXT + " FOR UPDATE SKIP LOCKED"  # PostgreSQL


def secondary_indexes(table: str) -> list[tuple[str, str]]:
    """(name, idempotent ``CREATE INDEX IF NOT EXISTS`` definition) of ``table``'s non-unique
    indexes, as the database has them now; empty for a table that does not exist."""
    database = database_proxy.obj
    if is_postgres():
        rows = database.execute_sql(POSTGRES_INDEXES, (table,)).fetchall()
    else:
        rows = database.execute_sql(SQLITE_INDEXES, (table,)).fetchall()
    return [(name, _CREATE.sub("CREATE INDEX IF NOT EXISTS ", sql, count=1)) for name, sql in rows]


def deferred() -> list[str]:
    """The names of the indexes an import has dropped and not yet recreated."""
    rows = database_proxy.obj.execute_sql("SELECT name FROM deferred_index ORDER BY name")
    return [name for (name,) in rows.fetchall()]


def defer(tables: Iterable[str] = IMPORTED_TABLES) -> list[str]:
    """Drop the non-unique indexes of ``tables`` and record them (one transaction); returns
    their names. Indexes recorded by an earlier import stay recorded."""
    database = database_proxy.obj
    dropped = []
    with write_transaction():
        now = time.time()
        for table in tables:
            for name, definition in secondary_indexes(table):
                execute_text(
                    "INSERT INTO deferred_index (name, table_name, definition, touched_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                    (name, table, definition, now),
                )
                # The name comes from the database's catalogue, quoted as an identifier.
                database.execute_sql(f"DROP INDEX {_quoted(name)}")
                dropped.append(name)
        touch()
    return dropped


def touch() -> None:
    """Inside an import batch's transaction: the import that deferred the indexes is alive."""
    execute_text("UPDATE deferred_index SET touched_at = ?", (time.time(),))


def restore(limit: int | None = None, workers: int = 1) -> int:
    """Recreate the recorded indexes, each in its own write transaction with the removal of
    its record; ``limit``: at most that many. Returns how many were recreated.

    ``workers`` (PostgreSQL, without a ``limit``): that many connections build indexes at
    once, each taking the next record nobody holds; on SQLite, which has one writer, one."""
    database = database_proxy.obj
    # migrate() restores before migrating: the table may not exist yet.
    if not database.table_exists("deferred_index"):
        return 0
    if workers > 1 and limit is None and is_postgres():
        # CREATE INDEX takes a SHARE lock, which does not conflict with itself: the builds of
        # one table run side by side; the trigram GIN builds are single-process (PostgreSQL
        # 15), the B-tree ones sort in parallel workers only part of the time.
        with ThreadPoolExecutor(workers - 1) as pool:
            others = [pool.submit(_restore_in_thread) for _ in range(workers - 1)]
            built = _restore(None, skip_locked=True)
            built += sum(other.result() for other in others)
        # Then wait for any record another process (the tick) was holding, as below.
        return built + _restore(None)
    return _restore(limit)


def _restore_in_thread() -> int:
    """``_restore`` on this thread's own connection (peewee keeps one per thread)."""
    database = database_proxy.obj
    database.connect(reuse_if_open=True)
    try:
        return _restore(None, skip_locked=True)
    finally:
        database.close()


def _restore(limit: int | None, *, skip_locked: bool = False) -> int:
    """``skip_locked`` (PostgreSQL): pass over the records other connections are rebuilding
    (locked by their transactions) instead of waiting for them; done when none is free."""
    database = database_proxy.obj
    query = NEXT_FREE if skip_locked else NEXT
    built = 0
    while limit is None or built < limit:
        with write_transaction():
            # Read under the write lock: another process may have recreated it meanwhile.
            row = database.execute_sql(query).fetchone()
            if row is None:
                return built
            if is_postgres():
                # One sort of the whole table: more memory than the default 64 MB saves passes.
                database.execute_sql("SET LOCAL maintenance_work_mem = '256MB'")
            # The definition is the database's own text, recorded by defer.
            database.execute_sql(row[1])
            execute_text("DELETE FROM deferred_index WHERE name = ?", (row[0],))
        built += 1
    return built


def restore_abandoned(now: float | None = None) -> int:
    """The dispatcher tick's share: one recorded index, once no import batch has touched the
    records for ``ABANDONED_S`` (the import that deferred them died; the search index's
    catch-up waits as long). The service runs on a migrated store: the table exists."""
    row = database_proxy.obj.execute_sql("SELECT max(touched_at) FROM deferred_index").fetchone()
    if row is None or row[0] is None:
        return 0
    if (time.time() if now is None else now) - float(row[0]) < ABANDONED_S:
        return 0
    return restore(limit=1)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
