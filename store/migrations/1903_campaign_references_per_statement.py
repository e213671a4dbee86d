"""``campaign_recipient``'s reference to client checked once per statement on a database built
from scratch too (issue 14 item 4). PostgreSQL only.

Migration 1430 replaced PostgreSQL's per-row foreign-key triggers by statement-level ones for
every table referring to clients that existed when it ran. Built from scratch, 1430 runs before
1801 creates ``campaign_recipient``, which kept its declared foreign key: correct, but a schema
that differs from an upgraded one, and a per-row cascade trigger on every deleted client. This
converts that one reference with 1430's own statements and rebuilds the client's cascade and
guards to include it. Where 1430 already converted it (an upgraded database) nothing changes.
``down`` changes nothing: the state is then 1430's on a database that had the table, which
1430's ``down`` restores whole.
"""

import importlib

from peewee import PostgresqlDatabase

REFERENCES_1430 = "store.migrations.1430_references_per_statement"
TABLE = "campaign_recipient"


def up(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        return
    per_statement = importlib.import_module(REFERENCES_1430)
    if (TABLE, "client_id", "client", "c") not in per_statement._declared(db):
        return
    table, column, parent, _, keys = next(r for r in per_statement.REFERENCES if r[0] == TABLE)
    db.execute_sql(f"ALTER TABLE {table} DROP CONSTRAINT {table}_{column}_fkey")
    for statement in per_statement._check_statements(table, column, parent, keys):
        db.execute_sql(statement)
    of_client = [r for r in per_statement._present(db) if r[2] == parent]
    for name in per_statement.GUARDS:
        db.execute_sql(f"DROP TRIGGER IF EXISTS {parent}_{name} ON {parent}")
    for statement in (
        *per_statement._cascade_statements(parent, of_client),
        *per_statement._guard_statements(parent, of_client),
    ):
        db.execute_sql(statement)


def down(migrator, db):
    pass
