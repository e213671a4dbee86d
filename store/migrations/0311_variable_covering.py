"""The variable filter served from its index alone (issue 3): ``(name, value, client_id)``.

``var:Размер=XS`` asks for the ids of the clients with that variable; with ``client_id`` in
the index both databases answer from the index without reading a row of ``variable`` (tens
of thousands of scattered rows at a million clients). It replaces ``(name, value)``, which
is its prefix.
"""


def up(migrator, db):
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "variable_name_value_client_id" '
        'ON "variable" ("name", "value", "client_id")'
    )
    db.execute_sql('DROP INDEX IF EXISTS "variable_name_value"')


def down(migrator, db):
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "variable_name_value" ON "variable" ("name", "value")'
    )
    db.execute_sql('DROP INDEX IF EXISTS "variable_name_value_client_id"')
