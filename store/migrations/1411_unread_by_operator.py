"""The Unanswered tab by operator (issue 14 items 3 and 5): ``(unread, responsible_id)``.

``/clients`` counts each tab within the filter: ``unanswered`` with ``mine``, ``free`` or
``others`` is ``unread AND responsible_id ...``. With an index on ``unread`` alone, either
condition left tens of thousands of rows to read at a million clients (SQLite: the Mine tab
of ``/clients unanswered`` took ~1 s, PostgreSQL's Others tab of an operator 200 ms); the
pair is one index range, answered from the index. It replaces ``client_unread``, its prefix.
"""


def up(migrator, db):
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "client_unread_responsible_id" '
        'ON "client" ("unread", "responsible_id")'
    )
    db.execute_sql('DROP INDEX IF EXISTS "client_unread"')


def down(migrator, db):
    db.execute_sql('CREATE INDEX IF NOT EXISTS "client_unread" ON "client" ("unread")')
    db.execute_sql('DROP INDEX IF EXISTS "client_unread_responsible_id"')
