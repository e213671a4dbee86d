"""Substring search at a million clients (issue 3): trigram indexes on name, messenger id, id.

SQLite: an FTS5 trigram table ``client_fts`` over the client table (external content, kept in
step by triggers, so every write path — ingest, import, bulk — is covered); it folds case for
every alphabet. PostgreSQL: pg_trgm GIN indexes serving ``ILIKE '%...%'``.
"""

from peewee import PostgresqlDatabase

SQLITE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS client_fts USING fts5("
    "name, messenger_id, id, content='client', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS client_fts_ai AFTER INSERT ON client BEGIN "
    "INSERT INTO client_fts(rowid, name, messenger_id, id) "
    "VALUES (new.id, new.name, new.messenger_id, new.id); END",
    "CREATE TRIGGER IF NOT EXISTS client_fts_ad AFTER DELETE ON client BEGIN "
    "INSERT INTO client_fts(client_fts, rowid, name, messenger_id, id) "
    "VALUES ('delete', old.id, old.name, old.messenger_id, old.id); END",
    "CREATE TRIGGER IF NOT EXISTS client_fts_au AFTER UPDATE OF name, messenger_id, id ON client "
    "BEGIN "
    "INSERT INTO client_fts(client_fts, rowid, name, messenger_id, id) "
    "VALUES ('delete', old.id, old.name, old.messenger_id, old.id); "
    "INSERT INTO client_fts(rowid, name, messenger_id, id) "
    "VALUES (new.id, new.name, new.messenger_id, new.id); END",
    "INSERT INTO client_fts(client_fts) VALUES ('rebuild')",
]

POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS client_name_trgm ON client USING gin (name gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS client_messenger_id_trgm ON client "
    "USING gin (messenger_id gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS client_id_trgm ON client USING gin ((id::text) gin_trgm_ops)",
]


def up(migrator, db):
    for statement in POSTGRES if isinstance(db, PostgresqlDatabase) else SQLITE:
        db.execute_sql(statement)


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        for name in ("client_name_trgm", "client_messenger_id_trgm", "client_id_trgm"):
            db.execute_sql(f"DROP INDEX IF EXISTS {name}")
    else:
        for name in ("client_fts_ai", "client_fts_ad", "client_fts_au"):
            db.execute_sql(f"DROP TRIGGER IF EXISTS {name}")
        db.execute_sql("DROP TABLE IF EXISTS client_fts")
