"""Deleting clients without re-tokenising them (issue 14 item 4): search tombstones (SQLite).

The FTS5 trigram index of migration 0301 removed a deleted client's entries in a per-row
trigger that tokenised its name and messenger id again: two thirds of deleting 100,000
clients at a million. Now the delete trigger only records the client's indexed values in
``client_fts_stale``, and ``store.clients.search_index.purge_stale`` removes their index
entries later, in batches (the outbox dispatcher's tick). Meanwhile a search may still find a
deleted client's id in the index: every search joins the client table, where the id is gone.
A new client reusing such an id (SQLite hands out max(id) + 1) has the stale entries removed
first, by the insert trigger, so the index never answers for a client with another's name.
PostgreSQL's trigram indexes are ordinary indexes: nothing to do there.
"""

from peewee import PostgresqlDatabase

SQLITE = [
    "CREATE TABLE IF NOT EXISTS client_fts_stale ("
    "id INTEGER PRIMARY KEY, name TEXT NOT NULL, messenger_id TEXT NOT NULL)",
    "DROP TRIGGER IF EXISTS client_fts_ad",
    "CREATE TRIGGER client_fts_ad AFTER DELETE ON client BEGIN "
    "INSERT OR REPLACE INTO client_fts_stale (id, name, messenger_id) "
    "VALUES (old.id, old.name, old.messenger_id); END",
    "DROP TRIGGER IF EXISTS client_fts_ai",
    "CREATE TRIGGER client_fts_ai AFTER INSERT ON client BEGIN "
    "INSERT INTO client_fts(client_fts, rowid, name, messenger_id, id) "
    "SELECT 'delete', id, name, messenger_id, id FROM client_fts_stale WHERE id = new.id; "
    "DELETE FROM client_fts_stale WHERE id = new.id; "
    "INSERT INTO client_fts(rowid, name, messenger_id, id) "
    "VALUES (new.id, new.name, new.messenger_id, new.id); END",
]

SQLITE_DOWN = [
    # The stale entries first: the old trigger expects an index in step with the table.
    "INSERT INTO client_fts(client_fts, rowid, name, messenger_id, id) "
    "SELECT 'delete', id, name, messenger_id, id FROM client_fts_stale",
    "DROP TABLE IF EXISTS client_fts_stale",
    "DROP TRIGGER IF EXISTS client_fts_ad",
    "CREATE TRIGGER client_fts_ad AFTER DELETE ON client BEGIN "
    "INSERT INTO client_fts(client_fts, rowid, name, messenger_id, id) "
    "VALUES ('delete', old.id, old.name, old.messenger_id, old.id); END",
    "DROP TRIGGER IF EXISTS client_fts_ai",
    "CREATE TRIGGER client_fts_ai AFTER INSERT ON client BEGIN "
    "INSERT INTO client_fts(rowid, name, messenger_id, id) "
    "VALUES (new.id, new.name, new.messenger_id, new.id); END",
]


def up(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        for statement in SQLITE:
            db.execute_sql(statement)


def down(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        for statement in SQLITE_DOWN:
            db.execute_sql(statement)
