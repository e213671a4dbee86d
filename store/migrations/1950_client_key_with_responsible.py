"""PostgreSQL: ``client``'s primary key carries ``responsible_id`` (issue 14 item 5).

The tab counts of a search (``/clients search:анна``: All, Unanswered, Mine, Others, Free,
``commands.admin.clients.tab_counts``) find the matches in ``client_search`` and then need
each match's responsible: at a million clients 15,092 lookups of ``client_pkey`` each followed
by a visit to the wide client row (90-160 ms of the command at load 5). With
``PRIMARY KEY (id) INCLUDE (responsible_id)`` the lookup finds the responsible in the index
entry itself (an index-only scan while the row's page is all-visible, which is most pages:
most clients are dormant).

Why the primary key and not a second index ``(id) INCLUDE (responsible_id)``: the key is
written on every insert and every update that is not HOT anyway, and an update that changes
``responsible_id`` is never HOT (``client_responsible_id`` indexes it), so the key carrying it
costs the writers nothing more, where a second index would be one more entry per ingest
update of ``last_action_at``. An entry grows only where the responsible is NULL (a null
bitmap: 16 -> 24 bytes). No declared foreign key refers to ``client_pkey`` (migration 1430's
statement triggers check the references), so the constraint is swapped in place: the new
unique index is built first, then the constraint moves to it in one ``ALTER TABLE``.

SQLite: nothing to do; its client rows live in the rowid b-tree, so reading a client's
responsible by id is already one b-tree lookup. ``down`` restores the plain key.
"""

from peewee import PostgresqlDatabase

TABLE = "client"
KEY = "client_pkey"
BUILDING = "client_pkey_building"  # the new index's name until the constraint takes it


def _swap_key(db, columns: str) -> None:
    db.execute_sql(f'DROP INDEX IF EXISTS "{BUILDING}"')
    db.execute_sql(f'CREATE UNIQUE INDEX "{BUILDING}" ON "{TABLE}" {columns}')
    # USING INDEX renames the index to the constraint's name.
    db.execute_sql(
        f'ALTER TABLE "{TABLE}" DROP CONSTRAINT "{KEY}", '
        f'ADD CONSTRAINT "{KEY}" PRIMARY KEY USING INDEX "{BUILDING}"'
    )


def up(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        _swap_key(db, '("id") INCLUDE ("responsible_id")')


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        _swap_key(db, '("id")')
