"""A big import into an (almost) empty store builds the secondary indexes once, at its end
(issue 14 item 6; both databases).

``deferred_index`` records each index an import dropped before its first batch: its name, its
table and its definition as the database itself wrote it (``sqlite_master.sql``,
``pg_get_indexdef``), in the same transaction as the ``DROP INDEX``. The import recreates them
at its end, each in its own transaction with the deletion of its row
(``store.deferred_indexes``). A killed import leaves the rows behind: the next import, the next
``migrate`` and the outbox dispatcher's tick (once no batch has touched the rows for a while)
recreate them. ``touched_at``: the time of the import's last batch, in seconds since the epoch.
"""

from peewee import PostgresqlDatabase

CREATE = (
    "CREATE TABLE IF NOT EXISTS deferred_index (name TEXT PRIMARY KEY, table_name TEXT NOT NULL, "
    "definition TEXT NOT NULL, touched_at {real} NOT NULL)"
)


def up(migrator, db):
    real = "DOUBLE PRECISION" if isinstance(db, PostgresqlDatabase) else "REAL"
    db.execute_sql(CREATE.format(real=real))


def down(migrator, db):
    # The indexes an import left dropped first: the schema below expects them.
    for (definition,) in db.execute_sql("SELECT definition FROM deferred_index").fetchall():
        db.execute_sql(definition)
    db.execute_sql("DROP TABLE IF EXISTS deferred_index")
