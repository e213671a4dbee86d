"""The search index's entries of deleted clients, removed in batches (SQLite; issue 14 item 4).

Deleting a client records its indexed values in ``client_fts_stale`` (migration 1410) instead
of tokenising them again inside the delete; ``purge_stale`` removes a batch of those entries
from the FTS5 index, off the operator's path (the outbox dispatcher calls it every tick).
Until then a search may meet a deleted client's id in the index and drops it at the join
with the client table. PostgreSQL keeps its trigram indexes in step itself: a no-op there.
"""

from __future__ import annotations

from store.db import database_proxy, is_postgres, write_transaction

PURGE_BATCH = 500  # entries per transaction: ~20-40 ms of SQLite's write lock


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
