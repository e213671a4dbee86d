"""Keeping SQLite's FTS5 search index off the hot write paths (issue 14 items 4 and 6).

Deleted clients (migration 1410): deleting a client records its indexed values in
``client_fts_stale`` instead of tokenising them again inside the delete; ``purge_stale``
removes a batch of those entries from the FTS5 index, off the operator's path (the outbox
dispatcher calls it every tick). Until then a search may meet a deleted client's id in the
index and drops it at the join with the client table.

Imported clients (migration 1440): each batch of an import marks, in its own transaction,
that the clients above the highest id it found are not indexed yet (``defer_new_clients``);
the insert trigger then skips the index. ``catch_up`` indexes them set-based at the end of the
import. Until then a search does not find the clients created since the import began (the
import's, and any new client ingest created meanwhile); the clients that existed before are
found, by their new names if the import renamed them. After a crash the mark stays: the next
import's ``catch_up`` covers it, and so does the dispatcher's tick (``catch_up_abandoned``)
once no batch has touched the mark for ``ABANDONED_S``.

PostgreSQL keeps its trigram indexes in step itself: every function is a no-op there.
"""

from __future__ import annotations

import time
from typing import Final

from store.db import database_proxy, is_postgres, write_transaction

PURGE_BATCH: Final = 500  # entries per transaction: ~20-40 ms of SQLite's write lock
CATCH_UP_CHUNK: Final = 50_000  # clients per transaction: ~0.4 s of CPU under the write lock
TICK_CHUNK: Final = 10_000  # clients per dispatcher tick: ~0.1 s of the write lock
ABANDONED_S: Final = 300.0  # a mark no batch touched for this long (seconds): its import died
# 'rebuild' re-tokenises every client, ~15 % cheaper per row than inserting (1M rows: 5.9 vs
# 7.3 s CPU): the cheaper way when the pending clients outnumber the indexed ones this much.
REBUILD_RATIO: Final = 4
# ...but it is one transaction: beyond this many clients (~1.5 s CPU) it would hold SQLite's
# write lock longer than ingest's busy_timeout (5 s) on a loaded machine; chunks instead.
REBUILD_MAX: Final = 250_000


def purge_stale(limit: int = PURGE_BATCH) -> int:
    """Remove the index entries of up to ``limit`` deleted clients; returns how many."""
    if is_postgres():
        return 0
    # A read first: most ticks find nothing and should not take the write lock for it.
    if database_proxy.execute_sql("SELECT 1 FROM client_fts_stale LIMIT 1").fetchone() is None:
        return 0
    with write_transaction():
        database_proxy.execute_sql(
            "INSERT INTO client_fts(client_fts, rowid, name, messenger_id, id) "
            "SELECT 'delete', id, name, messenger_id, id FROM client_fts_stale "
            "WHERE id IN (SELECT id FROM client_fts_stale ORDER BY id LIMIT ?)",
            (limit,),
        )
        removed = database_proxy.execute_sql(
            "DELETE FROM client_fts_stale "
            "WHERE id IN (SELECT id FROM client_fts_stale ORDER BY id LIMIT ?)",
            (limit,),
        )
        return int(removed.rowcount)


def stale_count() -> int:
    """How many deleted clients still have entries in the index (0 on PostgreSQL)."""
    if is_postgres():
        return 0
    return int(database_proxy.execute_sql("SELECT count(*) FROM client_fts_stale").fetchone()[0])


def defer_new_clients() -> None:
    """Inside an import batch's write transaction: the clients created from here on are not
    indexed until ``catch_up``. Keeps an existing mark's id (an earlier import's clients are
    still pending) and records the time, which tells the tick the import is alive."""
    if is_postgres():
        return
    database_proxy.execute_sql(
        "INSERT INTO client_fts_pending (id, after, touched_at) "
        "VALUES (1, (SELECT coalesce(max(id), 0) FROM client), ?) "
        "ON CONFLICT (id) DO UPDATE SET touched_at = excluded.touched_at",
        (time.time(),),
    )


def pending_after() -> int | None:
    """The id above which clients are not indexed yet, or None when every client is."""
    if is_postgres():
        return None
    row = database_proxy.execute_sql("SELECT after FROM client_fts_pending").fetchone()
    return None if row is None else int(row[0])


def catch_up(
    limit: int | None = None, chunk: int = CATCH_UP_CHUNK, rebuild: bool | None = None
) -> int:
    """Index the clients above the mark, ``chunk`` per write transaction, raising the mark as
    it goes, and remove the mark when none is left; ``limit`` stops after about that many.
    ``rebuild``: the whole index in one transaction instead (default: when that is cheaper and
    the store small enough, never with a ``limit``). Returns how many clients were indexed."""
    after = pending_after()
    if after is None:
        return 0
    if rebuild is None:
        rebuild = limit is None and _rebuild_is_cheaper(after)
    if rebuild:
        with write_transaction():
            database_proxy.execute_sql("INSERT INTO client_fts(client_fts) VALUES ('rebuild')")
            # The rebuilt index holds no deleted client's entries any more.
            database_proxy.execute_sql("DELETE FROM client_fts_stale")
            database_proxy.execute_sql("DELETE FROM client_fts_pending")
        return _count("SELECT count(*) FROM client WHERE id > ?", after)
    indexed = 0
    while limit is None or indexed < limit:
        with write_transaction():
            # Read again under the write lock: another process may have moved or removed it.
            after = pending_after()
            if after is None:
                return indexed
            last = database_proxy.execute_sql(
                "SELECT max(id), count(*) FROM "
                "(SELECT id FROM client WHERE id > ? ORDER BY id LIMIT ?)",
                (after, chunk),
            ).fetchone()
            if last[0] is not None:
                database_proxy.execute_sql(
                    "INSERT INTO client_fts(rowid, name, messenger_id, id) "
                    "SELECT id, name, messenger_id, id FROM client WHERE id > ? AND id <= ?",
                    (after, last[0]),
                )
                indexed += int(last[1])
            if last[1] < chunk:  # nothing is left above: no client goes unindexed any more
                database_proxy.execute_sql("DELETE FROM client_fts_pending")
                return indexed
            database_proxy.execute_sql("UPDATE client_fts_pending SET after = ?", (last[0],))
    return indexed


def catch_up_abandoned(now: float | None = None) -> int:
    """The dispatcher tick's share: a chunk of an import's pending clients once the import
    has not written for ``ABANDONED_S`` (it died); ``now`` in seconds since the epoch."""
    if is_postgres():
        return 0
    row = database_proxy.execute_sql("SELECT touched_at FROM client_fts_pending").fetchone()
    if row is None or (time.time() if now is None else now) - float(row[0]) < ABANDONED_S:
        return 0
    return catch_up(limit=TICK_CHUNK, chunk=TICK_CHUNK)


def _rebuild_is_cheaper(after: int) -> bool:
    indexed = _count("SELECT count(*) FROM client WHERE id <= ?", after)
    pending = _count("SELECT count(*) FROM client WHERE id > ?", after)
    return indexed * REBUILD_RATIO < pending and indexed + pending <= REBUILD_MAX


def _count(sql: str, after: int) -> int:
    return int(database_proxy.execute_sql(sql, (after,)).fetchone()[0])
