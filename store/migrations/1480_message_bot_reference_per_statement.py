"""``message.bot_id`` checked once per statement, not once per row (issue 14 item 7).
PostgreSQL only; SQLite keeps its declared foreign key, cheap there.

Ingest inserts a batch of messages in one statement; PostgreSQL's declared foreign key to
``bot`` ran its check trigger once per row (``SELECT 1 FROM bot WHERE id = $1 FOR KEY SHARE``,
the same bot row every time): 1.1 ms of the 1.8 ms of a 40-message insert (auto_explain,
docs/benchmarks.md "Webhook ingest (item 7)"), the biggest single cost of a write batch.
The reference is enforced with migration 1430's statements (one statement-level check of the
distinct bot ids, ``foreign_key_violation`` under the old constraint's name; ``ON DELETE
CASCADE`` by a statement trigger on ``bot``; an id change or ``TRUNCATE`` that leaves messages
pointing nowhere refused). The other tables referring to bots keep their declared keys: they
are written a row at a time. ``down`` restores the declared key.
"""

import importlib

from peewee import PostgresqlDatabase

REFERENCES_1430 = "store.migrations.1430_references_per_statement"
REFERENCE = ("message", "bot_id", "bot", "CASCADE", ("id",))


def _declared(db):
    return (
        db.execute_sql(
            "SELECT 1 FROM pg_constraint WHERE conname = 'message_bot_id_fkey' AND contype = 'f'"
        ).fetchone()
        is not None
    )


def up(migrator, db):
    if not isinstance(db, PostgresqlDatabase) or not _declared(db):
        return
    per_statement = importlib.import_module(REFERENCES_1430)
    table, column, parent, _, keys = REFERENCE
    db.execute_sql(f"ALTER TABLE {table} DROP CONSTRAINT {table}_{column}_fkey")
    for statement in (
        *per_statement._check_statements(table, column, parent, keys),
        *per_statement._cascade_statements(parent, [REFERENCE]),
        *per_statement._guard_statements(parent, [REFERENCE]),
    ):
        db.execute_sql(statement)


def down(migrator, db):
    if not isinstance(db, PostgresqlDatabase) or _declared(db):
        return
    per_statement = importlib.import_module(REFERENCES_1430)
    table, column, parent, on_delete, _ = REFERENCE
    per_statement._drop_guards(db, parent)
    per_statement._restore_declared(db, table, column, parent, on_delete)
