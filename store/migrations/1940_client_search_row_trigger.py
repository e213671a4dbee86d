"""``client_search`` written on a client update only when a searched column changed
(issue 14 item 7; PostgreSQL only, SQLite's FTS5 triggers already name their columns).

Migration 1420's ``client_search_update`` was a statement trigger with transition tables: it
fired on every ``UPDATE client``, ingest's too (``last_action_at``, ``unread`` of the batch's
clients), which writes nothing to the side table but paid for capturing the old and new rows
and for the two ``EXCEPT`` statements comparing them: 0.28-0.35 ms of a 40-client update
(auto_explain, docs/benchmarks.md "Webhook ingest (item 7)"). PostgreSQL refuses a column
list (``UPDATE OF name``) on a trigger with transition tables, so it is now a row trigger
``AFTER UPDATE OF id, name, messenger_id ... WHEN`` one of them really changed: an update of
other columns queues nothing and calls no function; a rename writes its one side row.

An id moved away deletes the old id's side row unless a client holds that id again after the
statement (two ids swapped in one statement). The insert, delete and truncate triggers stay
1420's. ``down`` restores 1420's statement trigger.
"""

import importlib

from peewee import PostgresqlDatabase

SEARCH_TABLE_1420 = "store.migrations.1420_client_search_table"

ROW_FUNCTION = (
    "CREATE OR REPLACE FUNCTION client_search_update_row() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN "
    "IF old.id <> new.id THEN "
    "DELETE FROM client_search WHERE client_id = old.id "
    "AND NOT EXISTS (SELECT 1 FROM client WHERE id = old.id); "
    "END IF; "
    "INSERT INTO client_search (client_id, name, messenger_id) "
    "VALUES (new.id, new.name, new.messenger_id) "
    "ON CONFLICT (client_id) DO UPDATE "
    "SET name = EXCLUDED.name, messenger_id = EXCLUDED.messenger_id; "
    "RETURN NULL; END $$"
)
ROW_TRIGGER = (
    "CREATE TRIGGER client_search_update AFTER UPDATE OF id, name, messenger_id ON client "
    "FOR EACH ROW WHEN (old.id IS DISTINCT FROM new.id OR old.name IS DISTINCT FROM new.name "
    "OR old.messenger_id IS DISTINCT FROM new.messenger_id) "
    "EXECUTE FUNCTION client_search_update_row()"
)


def up(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        return
    db.execute_sql("DROP TRIGGER IF EXISTS client_search_update ON client")
    db.execute_sql("DROP FUNCTION IF EXISTS client_search_update()")
    db.execute_sql(ROW_FUNCTION)
    db.execute_sql(ROW_TRIGGER)


def down(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        return
    search_table = importlib.import_module(SEARCH_TABLE_1420)
    db.execute_sql("DROP TRIGGER IF EXISTS client_search_update ON client")
    db.execute_sql("DROP FUNCTION IF EXISTS client_search_update_row()")
    db.execute_sql(
        "CREATE OR REPLACE FUNCTION client_search_update() RETURNS trigger "
        "LANGUAGE plpgsql SET jit = off AS $$ BEGIN "
        f"{search_table.FUNCTIONS['update']} RETURN NULL; END $$"
    )
    db.execute_sql(
        f"CREATE TRIGGER client_search_update {search_table.TRIGGERS['update']} "
        "FOR EACH STATEMENT EXECUTE FUNCTION client_search_update()"
    )
