"""The unread flag in a narrow table of its own, with the client's responsible (issue 14 item 4).

``client.unread`` was indexed (``(unread, responsible_id, id)``, migrations 1411/1412), so on
PostgreSQL marking a client read or unread was a non-HOT update writing every index of the
wide ``client`` row: the select-all of a million clients then Confirm(read) took 3.3-3.9 s
for its 79,804 rows. Now an unread client is a row of ``client_unread (client_id,
responsible_id)``: marking read deletes narrow rows, marking unread inserts them, no client row
is written. ``responsible_id`` is a copy of ``client.responsible_id`` (kept in step by every
writer of it, ``store.clients.unread.follow_responsible``) with an index ``(responsible_id,
client_id)``, so that the Unanswered tab by operator and an operator's badge are counted from
this table alone: joined back to ``client`` for the responsible they took 100-500 ms at a
million clients (docs/benchmarks.md, "The unread flag in a narrow table").

The unread clients are copied in, then the index and the column dropped (index first: SQLite
refuses to drop an indexed column; its ``DROP COLUMN`` rewrites ``client``). On PostgreSQL the
reference to ``client`` is checked once per statement with migration 1430's statements (it is
in 1430's ``REFERENCES``, as ``campaign_recipient`` is: 1903's pattern) and the client's
cascade and guards are rebuilt to delete these rows with their clients; the reference to
``operator`` keeps its declared ``ON DELETE SET NULL`` (operators are deleted rarely and one at
a time). SQLite keeps both declared foreign keys. ``down`` puts the column, its index and the
flags back and drops the table.
"""

import importlib

from peewee import *

REFERENCES_1430 = "store.migrations.1430_references_per_statement"
TABLE = "client_unread"
OLD_INDEX = "client_unread_responsible_id_id"  # 1412's (unread, responsible_id, id)


def _client_guards(per_statement, db):
    """Rebuild ``client``'s cascade and guard triggers for the references present now."""
    of_client = [r for r in per_statement._present(db) if r[2] == "client"]
    for name in per_statement.GUARDS:
        db.execute_sql(f"DROP TRIGGER IF EXISTS client_{name} ON client")
    for statement in (
        *per_statement._cascade_statements("client", of_client),
        *per_statement._guard_statements("client", of_client),
    ):
        db.execute_sql(statement)


def up(migrator, db):
    class Client(Model):
        class Meta:
            database = db
            table_name = "client"

    class Operator(Model):
        class Meta:
            database = db
            table_name = "operator"

    class ClientUnread(Model):
        client = ForeignKeyField(Client, primary_key=True, on_delete="CASCADE")
        responsible = ForeignKeyField(Operator, null=True, on_delete="SET NULL", index=False)

        class Meta:
            database = db
            table_name = TABLE
            indexes = ((("responsible", "client"), False),)

    db.create_tables([ClientUnread])
    postgres = isinstance(db, PostgresqlDatabase)
    if postgres:
        per_statement = importlib.import_module(REFERENCES_1430)
        table, column, parent, _, keys = next(r for r in per_statement.REFERENCES if r[0] == TABLE)
        db.execute_sql(f"ALTER TABLE {table} DROP CONSTRAINT {table}_{column}_fkey")
        for statement in per_statement._check_statements(table, column, parent, keys):
            db.execute_sql(statement)
        _client_guards(per_statement, db)
    db.execute_sql(
        f"INSERT INTO {TABLE} (client_id, responsible_id) "  # noqa: S608 (constants)
        "SELECT id, responsible_id FROM client WHERE unread"
    )
    db.execute_sql(f'DROP INDEX IF EXISTS "{OLD_INDEX}"')
    db.execute_sql('DROP INDEX IF EXISTS "client_unread_responsible_id"')  # 1411's, if left
    db.execute_sql('ALTER TABLE "client" DROP COLUMN "unread"')
    db.execute_sql(f"ANALYZE {TABLE}")


def down(migrator, db):
    postgres = isinstance(db, PostgresqlDatabase)
    false = "FALSE" if postgres else "0"
    kind = "BOOLEAN" if postgres else "INTEGER"
    db.execute_sql(f'ALTER TABLE "client" ADD COLUMN "unread" {kind} NOT NULL DEFAULT {false}')
    db.execute_sql(
        f'UPDATE "client" SET "unread" = {"TRUE" if postgres else "1"} '  # noqa: S608
        f"WHERE id IN (SELECT client_id FROM {TABLE})"
    )
    db.execute_sql(f'CREATE INDEX "{OLD_INDEX}" ON "client" ("unread", "responsible_id", "id")')
    if postgres:
        per_statement = importlib.import_module(REFERENCES_1430)
        for event in ("insert", "update"):
            db.execute_sql(f"DROP TRIGGER IF EXISTS {TABLE}_client_check_{event} ON {TABLE}")
            db.execute_sql(f"DROP FUNCTION IF EXISTS {TABLE}_client_check_{event}()")
    db.execute_sql(f"DROP TABLE {TABLE}")
    if postgres:
        _client_guards(per_statement, db)
