"""``var:=VALUE`` from an index on PostgreSQL: ``variable (value, client_id)`` (issue 14 item 3).

The covering index of 0311 starts with the name, so a filter on the value alone cannot seek
it. SQLite skip-scans it (a handful of names: one seek per name); PostgreSQL 15 has no skip
scan and merge-joined the clients with every client's variables, reading the rows to test the
value: the capped count of ``var:=XL`` at a million clients read 285,692 variable rows
(155 ms). With the value first it is an index range. SQLite: nothing to do (``store.models.POSTGRES_ONLY_INDEXES``).
"""

from peewee import PostgresqlDatabase

INDEX = "variable_value_client_id"


def up(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "variable" ("value", "client_id")')


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(f'DROP INDEX IF EXISTS "{INDEX}"')
