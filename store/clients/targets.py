"""The clients a bulk action runs on, selected once per action (issue 14 item 4).

``run_bulk`` reports how many clients matched and how many rows it changed. Counting first
and acting after evaluated the filter twice (at 100,000 of 1,000,000 clients on PostgreSQL a
hash join over the client table each time). Instead the filter runs once, into
``bulk_target``: a temporary table of client ids, local to the connection and emptied with
the transaction. Its row count is the number matched, and every statement of the action
finds its clients there by primary key (or reads the ids straight from it).

Without a condition (every client an admin may act on) nothing is copied: the client table
itself is the target, and its bare ``COUNT(*)`` the number.

Deleting clients deletes their dependent rows one set-based statement per table. On SQLite
``delete_clients`` deletes them first, so that the client rows' own ``ON DELETE CASCADE``
finds nothing left to delete, instead of deleting row by row; on PostgreSQL the client
table's statement-level trigger (migration 1430) does exactly that for the deleted ids, so
only the clients are deleted here.

On SQLite the delete also runs with ``foreign_keys`` off (``deleting_clients``): with it on,
every deleted client row probes each of the seven referencing tables for a cascade that has
nothing left to do (100,000 clients: 700,000 index probes, ~0.8 s of CPU of ~2.6 s for the
client rows). Off is safe only because the statements before do exactly what the cascade
would: every table that refers to a client cascades, and nothing refers to those tables
(checked here from the models, and against the database's declared keys by
tests/test_bulk.py).
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import logging
import threading
from collections.abc import Iterator
from typing import Final

import peewee as pw

from store.db import database_proxy, is_postgres, write_transaction
from store.filters.sql import CLIENT_ID
from store.models import Client

log = logging.getLogger(__name__)

TARGET = pw.Table("bulk_target")


def select_targets(
    where: pw.ColumnBase | None, *, joined: bool = True
) -> tuple[int, pw.ColumnBase | None]:
    """Evaluate ``where`` once into ``bulk_target``, inside the caller's write transaction.

    Returns how many clients match and the condition selecting them
    (``client.id IN (SELECT id FROM bulk_target)``), or ``None`` for every client.
    ``joined``: the action's statements join ``bulk_target`` to other tables (PostgreSQL then
    gathers its statistics); false when they only read it whole (adding memberships).
    """
    if where is None:
        return int(Client.select(pw.fn.COUNT(pw.SQL("*"))).scalar() or 0), None
    if is_postgres():
        # Dropped at commit (or rollback): nothing outlives the action. No primary key:
        # the ids come from the client table's, and the index would cost more than it saves.
        database_proxy.execute_sql(
            "CREATE TEMP TABLE IF NOT EXISTS bulk_target (id bigint NOT NULL) ON COMMIT DROP"
        )
    else:
        # A rowid table in the connection's in-memory temp store; emptied at both ends, since
        # SQLite has no ON COMMIT DROP.
        database_proxy.execute_sql(
            "CREATE TEMP TABLE IF NOT EXISTS bulk_target (id INTEGER PRIMARY KEY)"
        )
        database_proxy.execute_sql("DELETE FROM temp.bulk_target")
    copy = TARGET.insert(Client.select(CLIENT_ID).where(where), columns=[TARGET.c.id])
    matched = int(copy.as_rowcount().execute(database_proxy))
    if is_postgres() and joined:
        # The planner's size and distribution of the ids: a join by hash or by index probe
        # (20-50 ms at 100,000 ids).
        database_proxy.execute_sql("ANALYZE bulk_target")
    return matched, CLIENT_ID.in_(target_ids())


def target_ids(*extra: pw.Node) -> pw.Select:
    """``SELECT id[, extra...] FROM bulk_target``: the ids ``select_targets`` copied."""
    return TARGET.select(TARGET.c.id, *extra)


def release_targets(condition: pw.ColumnBase | None) -> None:
    """Free the copied ids (SQLite keeps the temporary table with the connection)."""
    if condition is not None and not is_postgres():
        database_proxy.execute_sql("DELETE FROM temp.bulk_target")


# SQLite's page cache during a bulk delete, KiB (PRAGMA cache_size's negative form): deleting
# 100,000 of 1,000,000 clients changes nearly every page of the client table, its 12 indexes
# and the dependants' (~0.7 GB); with the store's 256 MiB the cache spilled changed pages to the
# WAL mid-transaction and read evicted ones again (~2 s of ~8 s CPU). Allocated only as pages
# are read, and given back when the delete ends.
DELETE_CACHE_KIB = 1024 * 1024


def delete_clients(condition: pw.ColumnBase | None) -> int:
    """Delete the target clients: on SQLite every table referring to a client first, one
    statement each, then the clients (PostgreSQL's trigger deletes the dependants after them).
    Returns the clients deleted."""
    with _bigger_cache():
        if is_postgres():
            query = Client.delete()
            return int((query.where(condition) if condition is not None else query).execute())
        ids = target_ids() if condition is not None else Client.select(CLIENT_ID)
        for field, model in Client._meta.backrefs.items():  # every foreign key to client
            if field.on_delete == "CASCADE":  # the rows the database deletes one by one
                model.delete().where(field.in_(ids)).execute()
        with _tombstones_in_one_statement(condition):
            query = Client.delete()
            return int((query.where(condition) if condition is not None else query).execute())


# The search index's delete trigger (SQLite, migration 1440): a deleted client's indexed
# values into client_fts_stale, for the dispatcher's purge (store.clients.search_index).
TOMBSTONE_TRIGGER: Final = next(
    sql
    for sql in importlib.import_module("store.migrations.1440_deferred_search_index").SQLITE
    if sql.startswith("CREATE TRIGGER client_fts_ad ")
)
STALE = pw.Table("client_fts_stale")
PENDING = pw.Table("client_fts_pending")


@contextlib.contextmanager
def _tombstones_in_one_statement(condition: pw.ColumnBase | None) -> Iterator[None]:
    """SQLite, inside the delete's transaction: the deleted clients' tombstones written by one
    ``INSERT ... SELECT`` before the block, with ``client_fts_ad`` dropped while it runs and
    created again after it (the DDL is part of the transaction: a rollback restores it).

    Per row the trigger cost 0.2-0.4 s CPU of ~2 s for the client rows of 100,000 (rolled back
    at 1M, load 6.5). Only when the trigger is exactly migration 1440's (whose action this
    statement repeats), and only inside a transaction; otherwise the trigger does it.
    """
    if not database_proxy.in_transaction() or not _tombstone_trigger_is_1440s():
        yield
        return
    database_proxy.execute_sql("DROP TRIGGER client_fts_ad")
    rows = Client.select(Client.id, Client.name, Client.messenger_id).where(
        ~pw.fn.EXISTS(PENDING.select(pw.SQL("1")).where(Client.id > PENDING.c.after))
    )
    if condition is not None:
        rows = rows.where(condition)
    columns = [STALE.c.id, STALE.c.name, STALE.c.messenger_id]
    STALE.insert(rows, columns=columns).on_conflict_replace().execute(database_proxy)
    yield
    database_proxy.execute_sql(TOMBSTONE_TRIGGER)


def _tombstone_trigger_is_1440s() -> bool:
    row = database_proxy.execute_sql(
        "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = 'client_fts_ad'"
    ).fetchone()
    return row is not None and row[0] == TOMBSTONE_TRIGGER


def _statements_do_the_cascade() -> bool:
    """Whether ``delete_clients``' statements leave the foreign keys nothing to do: every
    reference to a client cascades (deleted by a statement) and nothing refers to the
    referencing tables (no second level of cascade, no SET NULL)."""
    return all(
        field.on_delete == "CASCADE" and not model._meta.backrefs
        for field, model in Client._meta.backrefs.items()
    )


@contextlib.contextmanager
def deleting_clients() -> Iterator[None]:
    """The write transaction of a delete of clients (``store.db.write_transaction``); on SQLite
    with ``foreign_keys`` off while it runs, and its WAL checkpointed after it in a thread of
    its own (``checkpoint_in_background``); both settings back as they were, commit or not.

    SQLite ignores the foreign-keys pragma inside a transaction, so it is set before this one
    begins; inside a caller's transaction both stay as they are (the cascade then probes and
    finds nothing, the caller's commit checkpoints: correct, slower). Only ever off when
    ``delete_clients``' statements do all that the cascade does. Nothing else runs on the
    connection meanwhile: peewee gives each thread its own.
    """
    alone = not is_postgres() and not database_proxy.in_transaction()
    off = (
        alone
        and _statements_do_the_cascade()
        and int(database_proxy.execute_sql("PRAGMA foreign_keys").fetchone()[0]) == 1
    )
    checkpoint = (
        int(database_proxy.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0]) if alone else 0
    )
    if off:
        database_proxy.execute_sql("PRAGMA foreign_keys = OFF")
    if checkpoint > 0:
        database_proxy.execute_sql("PRAGMA wal_autocheckpoint = 0")
    committed = False
    try:
        with write_transaction():
            yield
        committed = True
    finally:
        if off:
            database_proxy.execute_sql("PRAGMA foreign_keys = ON")
        if checkpoint > 0:
            database_proxy.execute_sql(f"PRAGMA wal_autocheckpoint = {checkpoint}")
    if committed and checkpoint > 0:
        checkpoint_in_background(database_proxy.obj)


# The last checkpoints started by deletes, not yet waited for (wait_for_checkpoints); bounded,
# since a service never waits for them.
_CHECKPOINTS: collections.deque[tuple[threading.Thread, list[tuple[int, int, int]]]] = (
    collections.deque(maxlen=8)
)


def checkpoint_in_background(db: pw.Database) -> threading.Thread:
    """Copy the WAL back into the database file in a thread of its own, on its own connection
    (``PRAGMA wal_checkpoint(PASSIVE)``: readers and writers carry on meanwhile).

    A delete of 100,000 of 1,000,000 clients leaves ~1 GB of WAL (every page of the client
    table, its indexes and the dependants'); with the automatic checkpoint the delete's own
    COMMIT copied it back before returning: 1.3-4 s of the operator's wait (~1.1 s CPU, the
    rest I/O). Another connection's commit meanwhile skips its own automatic checkpoint (a
    passive one does not wait for the checkpoint lock), so nobody waits for this one. If the
    process ends first, the WAL is checkpointed by the next commit or close: nothing is lost.
    """
    results: list[tuple[int, int, int]] = []

    def run() -> None:
        try:
            row = db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            results.append((int(row[0]), int(row[1]), int(row[2])))
        except Exception:  # the next commit's automatic checkpoint does it instead
            log.warning("background checkpoint after a delete failed", exc_info=True)
        finally:
            with contextlib.suppress(Exception):
                db.close()  # this thread's connection (peewee keeps one per thread)

    thread = threading.Thread(target=run, name="delete-checkpoint", daemon=True)
    _CHECKPOINTS.append((thread, results))
    thread.start()
    return thread


def wait_for_checkpoints() -> list[tuple[int, int, int]]:
    """Wait for the background checkpoints started so far; their ``PRAGMA wal_checkpoint``
    rows (busy, frames in the WAL, frames copied back), in order. For tests and benchmarks."""
    done = []
    while _CHECKPOINTS:
        thread, results = _CHECKPOINTS.popleft()
        thread.join()
        done.extend(results)
    return done


@contextlib.contextmanager
def _bigger_cache() -> Iterator[None]:
    """SQLite: ``DELETE_CACHE_KIB`` of page cache while the block runs, then the connection's
    own size again (the pages beyond it are freed). PostgreSQL: nothing."""
    if is_postgres():
        yield
        return
    kept = int(database_proxy.execute_sql("PRAGMA cache_size").fetchone()[0])
    # Negative: KiB; positive: pages. Only ever larger.
    if kept > 0:
        kept_kib = kept * int(database_proxy.execute_sql("PRAGMA page_size").fetchone()[0]) // 1024
    else:
        kept_kib = -kept
    if kept_kib >= DELETE_CACHE_KIB:
        yield
        return
    database_proxy.execute_sql(f"PRAGMA cache_size = {-DELETE_CACHE_KIB}")
    try:
        yield
    finally:
        database_proxy.execute_sql(f"PRAGMA cache_size = {kept}")
