"""The references an import writes per row checked once per statement (issue 14 item 6).
PostgreSQL only; SQLite keeps its declared foreign keys, cheap there.

An import inserts 20,000 clients and ~40,000 block-history rows a statement. PostgreSQL's
declared foreign keys ran a check trigger per row, ``SELECT 1 FROM block WHERE id = $1 FOR KEY
SHARE`` (the same ~20 blocks every time), and the same for each client's bot and block: the
block check was 1.05 s of a 1.38 s history insert of 40,000 rows (``EXPLAIN ANALYZE``,
docs/benchmarks.md item 6). ``client.bot_id``, ``client.block_id`` and
``block_history.block_id`` are enforced with migration 1430's statements, as 1480 did for
``message.bot_id``: one statement-level check of the distinct ids (``foreign_key_violation``
under the old constraint's name), ``ON DELETE CASCADE`` / ``SET NULL`` by a statement trigger
on the parent, an id change or ``TRUNCATE`` leaving rows pointing nowhere refused. ``bot``'s
cascade and guards are rebuilt to cover ``message`` (1480) and ``client``. ``down`` restores
the declared keys and 1480's triggers on ``bot``.
"""

import importlib

from peewee import PostgresqlDatabase

REFERENCES_1430 = "store.migrations.1430_references_per_statement"
MESSAGE_BOT = ("message", "bot_id", "bot", "CASCADE", ("id",))  # 1480's
REFERENCES = (
    ("client", "bot_id", "bot", "CASCADE", ("id",)),
    ("client", "block_id", "block", "SET NULL", ("id",)),
    ("block_history", "block_id", "block", "CASCADE", ("id",)),
)


def _declared(db, table, column):
    return (
        db.execute_sql(
            "SELECT 1 FROM pg_constraint WHERE conname = %s AND contype = 'f'",
            (f"{table}_{column}_fkey",),
        ).fetchone()
        is not None
    )


def _guards(per_statement, db):
    # bot: 1480's message reference, and client's when converted; block: what is converted.
    converted = [r for r in REFERENCES if not _declared(db, r[0], r[1])]
    of_bot = [MESSAGE_BOT, *(r for r in converted if r[2] == "bot")]
    of_block = [r for r in converted if r[2] == "block"]
    for parent, references in (("bot", of_bot), ("block", of_block)):
        per_statement._drop_guards(db, parent)
        if references:
            for statement in (
                *per_statement._cascade_statements(parent, references),
                *per_statement._guard_statements(parent, references),
            ):
                db.execute_sql(statement)


def up(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        return
    per_statement = importlib.import_module(REFERENCES_1430)
    for table, column, parent, _, keys in REFERENCES:
        if not _declared(db, table, column):
            continue
        db.execute_sql(f"ALTER TABLE {table} DROP CONSTRAINT {table}_{column}_fkey")
        for statement in per_statement._check_statements(table, column, parent, keys):
            db.execute_sql(statement)
    _guards(per_statement, db)


def down(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        return
    per_statement = importlib.import_module(REFERENCES_1430)
    for table, column, parent, on_delete, _ in REFERENCES:
        if not _declared(db, table, column):
            per_statement._restore_declared(db, table, column, parent, on_delete)
    _guards(per_statement, db)
