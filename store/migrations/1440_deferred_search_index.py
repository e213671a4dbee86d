"""A big import indexes its new clients for search once, at its end (issue 14 item 6; SQLite).

The FTS5 trigram index of migration 0301 tokenised every inserted client in its insert
trigger: about half of the import's client insert (~12 us a row of ~68). Now a row in
``client_fts_pending`` (written with each batch of an import, in the batch's transaction)
says "clients with ``id > after`` are not in ``client_fts`` yet": the insert, update and
delete triggers skip the clients above the mark (a new client's id is above it unless the
highest ids were deleted meanwhile; the others have no entries to change). ``store.clients.search_index.catch_up`` then indexes those
clients set-based, a chunk per transaction, raising ``after`` as it goes, and deletes the row
when none is left: at the end of the import; after a crash at the next import's end, or from
the outbox dispatcher's tick once the row has not been touched for a while.

The insert trigger still removes a reused id's stale entries (migration 1410) at once, so a
search never finds a new client by a deleted client's name. ``touched_at`` is the time of the
import's last batch, in seconds since the epoch. PostgreSQL: nothing (its trigram indexes are
maintained by the server).
"""

from peewee import PostgresqlDatabase

SQLITE = [
    "CREATE TABLE IF NOT EXISTS client_fts_pending ("
    "id INTEGER PRIMARY KEY CHECK (id = 1), after INTEGER NOT NULL, touched_at REAL NOT NULL)",
    "DROP TRIGGER IF EXISTS client_fts_ai",
    "CREATE TRIGGER client_fts_ai AFTER INSERT ON client BEGIN "
    "INSERT INTO client_fts(client_fts, rowid, name, messenger_id, id) "
    "SELECT 'delete', id, name, messenger_id, id FROM client_fts_stale WHERE id = new.id; "
    "DELETE FROM client_fts_stale WHERE id = new.id; "
    "INSERT INTO client_fts(rowid, name, messenger_id, id) "
    "SELECT new.id, new.name, new.messenger_id, new.id "
    "WHERE NOT EXISTS (SELECT 1 FROM client_fts_pending WHERE new.id > after); END",
    "DROP TRIGGER IF EXISTS client_fts_au",
    "CREATE TRIGGER client_fts_au AFTER UPDATE OF name, messenger_id, id ON client "
    "WHEN NOT EXISTS (SELECT 1 FROM client_fts_pending WHERE old.id > after) BEGIN "
    "INSERT INTO client_fts(client_fts, rowid, name, messenger_id, id) "
    "VALUES ('delete', old.id, old.name, old.messenger_id, old.id); "
    "INSERT INTO client_fts(rowid, name, messenger_id, id) "
    "VALUES (new.id, new.name, new.messenger_id, new.id); END",
    "DROP TRIGGER IF EXISTS client_fts_ad",
    "CREATE TRIGGER client_fts_ad AFTER DELETE ON client "
    "WHEN NOT EXISTS (SELECT 1 FROM client_fts_pending WHERE old.id > after) BEGIN "
    "INSERT OR REPLACE INTO client_fts_stale (id, name, messenger_id) "
    "VALUES (old.id, old.name, old.messenger_id); END",
]

SQLITE_DOWN = [
    # The pending clients first: the old triggers expect every client in the index.
    "INSERT INTO client_fts(rowid, name, messenger_id, id) "
    "SELECT id, name, messenger_id, id FROM client "
    "WHERE id > (SELECT after FROM client_fts_pending)",
    "DROP TABLE IF EXISTS client_fts_pending",
    "DROP TRIGGER IF EXISTS client_fts_ai",
    "CREATE TRIGGER client_fts_ai AFTER INSERT ON client BEGIN "
    "INSERT INTO client_fts(client_fts, rowid, name, messenger_id, id) "
    "SELECT 'delete', id, name, messenger_id, id FROM client_fts_stale WHERE id = new.id; "
    "DELETE FROM client_fts_stale WHERE id = new.id; "
    "INSERT INTO client_fts(rowid, name, messenger_id, id) "
    "VALUES (new.id, new.name, new.messenger_id, new.id); END",
    "DROP TRIGGER IF EXISTS client_fts_au",
    "CREATE TRIGGER client_fts_au AFTER UPDATE OF name, messenger_id, id ON client BEGIN "
    "INSERT INTO client_fts(client_fts, rowid, name, messenger_id, id) "
    "VALUES ('delete', old.id, old.name, old.messenger_id, old.id); "
    "INSERT INTO client_fts(rowid, name, messenger_id, id) "
    "VALUES (new.id, new.name, new.messenger_id, new.id); END",
    "DROP TRIGGER IF EXISTS client_fts_ad",
    "CREATE TRIGGER client_fts_ad AFTER DELETE ON client BEGIN "
    "INSERT OR REPLACE INTO client_fts_stale (id, name, messenger_id) "
    "VALUES (old.id, old.name, old.messenger_id); END",
]


def up(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        for statement in SQLITE:
            db.execute_sql(statement)


def down(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        for statement in SQLITE_DOWN:
            db.execute_sql(statement)
