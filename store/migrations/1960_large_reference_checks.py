"""A statement referring to more than 1,000 clients checks them under one advisory lock instead
of locking each row (issue 14 item 4). PostgreSQL only.

Migration 1430's check locks the distinct client ids a statement refers to ``FOR KEY SHARE``,
as the built-in foreign key did, so that a concurrent delete of one of them waits (or the
check waits for the delete and sees the row gone). For a bulk label-add on 100,000 of
1,000,000 clients that writes the lock into ~15,600 heap pages of ``client``: every page
dirtied, a WAL full-page image each after a checkpoint. Above ``LARGE`` distinct ids the
check now takes the advisory lock ``KEYS["client"]`` exclusively and counts the rows with a
fresh snapshot; the client's cascade (every DELETE) and its id guard take that lock shared
before acting. The protocol and why no orphan can result: 1430's module, at ``LARGE``.

The statements are 1430's builders (which now emit this form for ``client``): this migration
rebuilds the client's checks, cascade and guards on a database migrated before it. ``down``
rebuilds them as 1430 first made them (row locks always, no advisory lock).
"""

import importlib

from peewee import PostgresqlDatabase

REFERENCES_1430 = "store.migrations.1430_references_per_statement"
PARENT = "client"


def _rebuild(db, large):
    per_statement = importlib.import_module(REFERENCES_1430)
    converted = [
        reference
        for reference in per_statement._present(db)
        if reference[2] == PARENT
        and db.execute_sql(
            "SELECT 1 FROM pg_trigger WHERE tgname = %s",
            (f"{reference[0]}_{PARENT}_check_insert",),
        ).fetchone()
        is not None
    ]
    if not converted:
        return
    for table, column, parent, _, keys in converted:
        for event in ("insert", "update"):
            db.execute_sql(f"DROP TRIGGER {table}_{parent}_check_{event} ON {table}")
        for statement in per_statement._check_statements(table, column, parent, keys, large):
            db.execute_sql(statement)
    for name in per_statement.GUARDS:
        db.execute_sql(f"DROP TRIGGER IF EXISTS {PARENT}_{name} ON {PARENT}")
    for statement in (
        *per_statement._cascade_statements(PARENT, converted, large),
        *per_statement._guard_statements(PARENT, converted, large),
    ):
        db.execute_sql(statement)


def up(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        _rebuild(db, large=True)


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        _rebuild(db, large=False)
