"""Drop ``client_last_action_at`` (issue 14 item 4): no query reads it.

The client list's order by activity is ``(pinned, last_action_at)`` (``store.clients.query``:
``ORDER_INDEX``, the keyset cursor), and no filter compares ``last_action_at`` alone; at a million
clients no plan of the filter benchmark used this index on either database, except a capped
count that scans any covering index. Every client insert, delete and (on PostgreSQL, never
HOT) update maintained it: one index of ten on ``client``. Both databases.
"""


def up(migrator, db):
    db.execute_sql('DROP INDEX IF EXISTS "client_last_action_at"')


def down(migrator, db):
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "client_last_action_at" ON "client" ("last_action_at")'
    )
