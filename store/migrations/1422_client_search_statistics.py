"""Finer statistics for ``client_search`` (PostgreSQL): the row estimates of a substring search.

The planner estimates ``name ILIKE '%smith%'`` from the column's histogram; with the default
100 entries a name shared by 1.5 % of a million clients was estimated at 954 rows (14,899
matched), so the page of ``search:smith`` read every match by primary key and sorted them
(300 ms) instead of walking the list-order index and probing the side table (39 ms). 1,000
entries estimate it at 15,219. ANALYZE of the narrow side table then samples 300,000 rows
(~3 s at a million clients, in autovacuum's background). SQLite: nothing to do.
"""

from peewee import PostgresqlDatabase

COLUMNS = ("name", "messenger_id")


def _set(db, target: int) -> None:
    alter = ", ".join(f"ALTER COLUMN {c} SET STATISTICS {target}" for c in COLUMNS)
    db.execute_sql(f"ALTER TABLE client_search {alter}")
    db.execute_sql("ANALYZE client_search")


def up(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        _set(db, 1000)


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        _set(db, -1)  # the server's default_statistics_target
