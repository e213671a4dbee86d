"""The trigram indexes off the client row (issue 14 items 4, 6, 7; PostgreSQL only).

The pg_trgm GIN indexes of migration 0301 sat on ``client``. ``unread`` and ``last_action_at``
are indexed, so no update of a client row is HOT: every inbound message (ingest sets both) and
every bulk ``read`` wrote a new entry into all of client's indexes, the three GIN indexes too —
trigram extraction of the name and messenger id for a change to neither. Marking 79,804
clients read took 22 s with them, 10 s without.

Now the searched values live in a narrow side table ``client_search (client_id, name,
messenger_id)`` carrying the three GIN indexes (name, messenger id, the id as text), and the
filter joins it to ``client`` (``store.filters.sql``). Statement-level triggers with transition
tables keep it in step with ``client`` — one set-based statement per client statement, never
one per row:

- INSERT (also ``COPY`` and the insert of an ``INSERT ... ON CONFLICT``): the new rows.
- UPDATE: upserts only the rows whose name or messenger id changed (a statement trigger has no
  WHEN clause, so the statement compares its OLD and NEW tables) and deletes the ids an update
  moved away from (client ids are never updated today; this keeps the table right if one is).
  An update of other columns (ingest's ``last_action_at``/``unread``) writes nothing here.
- DELETE: the deleted ids. TRUNCATE: the whole table.

No foreign key to ``client``: its per-row check is what issue 14 removes elsewhere (task
pg-fk); the triggers are the integrity. SQLite keeps its FTS5 table (0301, 1410): a no-op there.
"""

from peewee import PostgresqlDatabase

INDEXES = {
    # name: (indexed expression on client_search, the expression 0301 indexed on client)
    "client_name_trgm": ("name", "name"),
    "client_messenger_id_trgm": ("messenger_id", "messenger_id"),
    "client_id_trgm": ("(client_id::text)", "(id::text)"),
}

# One function per event: a trigger with transition tables may name one event only. The
# UPDATE compares (id, name, messenger id) of its NEW and OLD tables with EXCEPT (a hashed
# set operation on three columns; a join of the two whole-row tables was sorted and merged,
# ~6x slower at 80,000 rows). JIT is off in these functions: the transition tables have no
# statistics, the planner guessed millions of rows and compiled for 0.2 s.
FUNCTIONS = {
    "insert": (
        "INSERT INTO client_search (client_id, name, messenger_id) "
        "SELECT id, name, messenger_id FROM new_rows "
        "ON CONFLICT (client_id) DO UPDATE "
        "SET name = EXCLUDED.name, messenger_id = EXCLUDED.messenger_id;"
    ),
    "update": (
        "INSERT INTO client_search (client_id, name, messenger_id) "
        "SELECT id, name, messenger_id FROM new_rows "
        "EXCEPT SELECT id, name, messenger_id FROM old_rows "
        "ON CONFLICT (client_id) DO UPDATE "
        "SET name = EXCLUDED.name, messenger_id = EXCLUDED.messenger_id; "
        "DELETE FROM client_search WHERE client_id IN "
        "(SELECT id FROM old_rows EXCEPT SELECT id FROM new_rows);"
    ),
    "delete": "DELETE FROM client_search AS s USING old_rows AS o WHERE s.client_id = o.id;",
    "truncate": "TRUNCATE client_search;",
}

TRIGGERS = {
    "insert": "AFTER INSERT ON client REFERENCING NEW TABLE AS new_rows",
    "update": "AFTER UPDATE ON client REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "AFTER DELETE ON client REFERENCING OLD TABLE AS old_rows",
    "truncate": "AFTER TRUNCATE ON client",
}


def _up_statements() -> list[str]:
    statements = [
        "CREATE TABLE IF NOT EXISTS client_search ("
        "client_id integer PRIMARY KEY, name varchar(400) NOT NULL, "
        "messenger_id varchar(320) NOT NULL)",
    ]
    for event, body in FUNCTIONS.items():
        statements.append(
            f"CREATE OR REPLACE FUNCTION client_search_{event}() RETURNS trigger "
            f"LANGUAGE plpgsql SET jit = off AS $$ BEGIN {body} RETURN NULL; END $$"
        )
        statements.append(f"DROP TRIGGER IF EXISTS client_search_{event} ON client")
        statements.append(
            f"CREATE TRIGGER client_search_{event} {TRIGGERS[event]} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION client_search_{event}()"
        )
    # Filled set-based, then indexed: building a GIN index over the loaded rows is far
    # cheaper than inserting into it row by row. The triggers above hold client's SHARE ROW
    # EXCLUSIVE lock until commit, so no write slips between the fill and the triggers.
    statements.append(
        "INSERT INTO client_search (client_id, name, messenger_id) "
        "SELECT id, name, messenger_id FROM client ON CONFLICT (client_id) DO NOTHING"
    )
    for name in INDEXES:
        statements.append(f"DROP INDEX IF EXISTS {name}")
    for name, (expression, _) in INDEXES.items():
        statements.append(
            f"CREATE INDEX {name} ON client_search USING gin ({expression} gin_trgm_ops)"
        )
    statements.append("ANALYZE client_search")
    return statements


def _down_statements() -> list[str]:
    statements = [f"DROP TRIGGER IF EXISTS client_search_{event} ON client" for event in TRIGGERS]
    statements += [f"DROP FUNCTION IF EXISTS client_search_{event}()" for event in FUNCTIONS]
    statements.append("DROP TABLE IF EXISTS client_search")  # its indexes with it
    statements += [
        f"CREATE INDEX IF NOT EXISTS {name} ON client USING gin ({expression} gin_trgm_ops)"
        for name, (_, expression) in INDEXES.items()
    ]
    return statements


def up(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        for statement in _up_statements():
            db.execute_sql(statement)


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        for statement in _down_statements():
            db.execute_sql(statement)
