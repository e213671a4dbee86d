"""Foreign keys to ``client`` checked once per statement, not once per row (issue 14 items 4, 7).

PostgreSQL only; SQLite keeps its declarative foreign keys, which cost little there.

PostgreSQL enforces a foreign key with a trigger per row: adding a label to 100,000 clients ran
100,000 existence checks, and deleting 100,000 clients ran, per referencing table, 100,000
cascade triggers (each a ``DELETE ... WHERE client_id = $1``) even after the dependants were
gone. This migration drops the seven foreign keys to ``client.id`` and enforces the same rules
with statement-level triggers over transition tables:

- ``client_references_cascade`` (``AFTER DELETE`` on client, per statement): one ``DELETE``
  (``ON DELETE CASCADE``) or ``UPDATE ... SET NULL`` (``ON DELETE SET NULL``) per referencing
  table for every deleted id at once;
- ``<table>_client_check`` (``AFTER INSERT`` and ``AFTER UPDATE`` on each referencing table,
  per statement): locks the referenced clients ``FOR KEY SHARE`` in one statement, as the
  built-in check does per row (a concurrent delete of the client waits for this transaction,
  or this check waits for the delete and then fails), and raises ``foreign_key_violation``
  (SQLSTATE 23503) naming the table, the column and one missing id, with the old constraint's
  name. NULL passes. An ``UPDATE`` checks only the rows whose client id it changed, like the
  built-in check;
- ``client_id_still_referenced`` (``AFTER UPDATE OF id`` on client, per changed row: ids never
  change in practice) and ``client_truncate_references`` (``AFTER TRUNCATE``) refuse to leave
  rows pointing at a client that is gone, as ``ON UPDATE NO ACTION`` and the refusal to
  truncate a referenced table did (the latter now only when such rows exist).

The label and list side (``label_id``, ``mailing_list_id``) keeps its foreign keys.
Migrations run in number order: on a database built from scratch this one runs before 1801
creates ``campaign_recipient``, which then keeps its declared foreign key (see ``_present``).
``down`` drops the triggers and restores the constraints as they were.
"""

from peewee import PostgresqlDatabase

# Every foreign key to client.id as migration 1802 left them (pg_constraint, contype 'f',
# confrelid 'client'): table, column, ON DELETE action, the columns naming one row.
REFERENCES = (
    ("admin_notice", "client_id", "CASCADE", ("id",)),
    ("block_history", "client_id", "CASCADE", ("id",)),
    ("campaign_recipient", "client_id", "CASCADE", ("client_id", "campaign_id")),
    ("label_membership", "client_id", "CASCADE", ("client_id", "label_id")),
    ("list_membership", "client_id", "CASCADE", ("client_id", "mailing_list_id")),
    ("message", "client_id", "CASCADE", ("id",)),
    ("variable", "client_id", "CASCADE", ("id",)),
)

# The rows of new_rows whose reference to check: every row of an INSERT; of an UPDATE the rows
# whose client id (or identity) changed, since an unchanged reference was checked when written.
INSERTED = "SELECT n.{column} FROM new_rows n"
CHANGED = (
    "SELECT n.{column} FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE {same})"
)

CHECK = """
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    wanted bigint;
    locked bigint;
    missing bigint;
BEGIN
    -- The distinct ids referenced, then the clients among them locked in one statement. The
    -- lock waits for a concurrent delete of one of them and skips the row once it is gone, so
    -- fewer locked than wanted means a client is missing.
    SELECT count(DISTINCT r.{column}) INTO wanted FROM ({rows}) AS r;
    IF wanted = 0 THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO locked FROM (
        SELECT 1 FROM client c WHERE c.id IN (SELECT r.{column} FROM ({rows}) AS r)
        FOR KEY SHARE OF c
    ) AS l;
    IF locked < wanted THEN
        SELECT r.{column} INTO missing FROM ({rows}) AS r
        WHERE r.{column} IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM client c WHERE c.id = r.{column})
        LIMIT 1;
        RAISE EXCEPTION USING
            ERRCODE = 'foreign_key_violation',
            MESSAGE = 'insert or update on table "{table}" violates foreign key constraint '
                      '"{constraint}"',
            DETAIL = 'Key ({column})=(' || missing || ') is not present in table "client".',
            TABLE = '{table}', COLUMN = '{column}', CONSTRAINT = '{constraint}';
    END IF;
    RETURN NULL;
END
$fn$
"""

CHECK_TRIGGER = (
    "CREATE TRIGGER {trigger} AFTER {event} ON {table} REFERENCING {tables} "
    "FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
)


def _check_statements(table, column, keys):
    function = f"{table}_client_check"
    same = " AND ".join(f"o.{key} = n.{key}" for key in dict.fromkeys((*keys, column)))
    yield CHECK.format(
        function=f"{function}_insert",
        rows=INSERTED.format(column=column),
        column=column,
        table=table,
        constraint=f"{table}_{column}_fkey",
    )
    yield CHECK.format(
        function=f"{function}_update",
        rows=CHANGED.format(column=column, same=same),
        column=column,
        table=table,
        constraint=f"{table}_{column}_fkey",
    )
    for event, tables in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ):
        suffix = event.lower()
        yield CHECK_TRIGGER.format(
            trigger=f"{function}_{suffix}",
            event=event,
            table=table,
            tables=tables,
            function=f"{function}_{suffix}",
        )


def _cascade_statements(references):
    actions = []
    # The names are the constants above: no outside text reaches these statements.
    for table, column, on_delete, _ in references:
        if on_delete == "CASCADE":
            actions.append(f"DELETE FROM {table} WHERE {column} IN (SELECT id FROM old_rows);")  # noqa: S608
        else:  # SET NULL
            actions.append(
                f"UPDATE {table} SET {column} = NULL WHERE {column} IN (SELECT id FROM old_rows);"  # noqa: S608
            )
    body = "\n    ".join(actions)
    yield (
        "CREATE OR REPLACE FUNCTION client_references_cascade() RETURNS trigger "
        f"LANGUAGE plpgsql AS $fn$\nBEGIN\n    {body}\n    RETURN NULL;\nEND\n$fn$"
    )
    yield (
        "CREATE TRIGGER client_references_cascade AFTER DELETE ON client "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION client_references_cascade()"
    )


def _guard_statements(references):
    still = " OR ".join(
        f"EXISTS (SELECT 1 FROM {table} WHERE {column} = OLD.id)"  # noqa: S608
        for table, column, _, _ in references
    )
    yield (
        "CREATE OR REPLACE FUNCTION client_id_still_referenced() RETURNS trigger "  # noqa: S608
        "LANGUAGE plpgsql AS $fn$\nBEGIN\n"
        # Another row may have taken the old id in the same statement (ids swapped).
        f"    IF NOT EXISTS (SELECT 1 FROM client WHERE id = OLD.id) AND ({still}) THEN\n"
        "        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',\n"
        "            MESSAGE = 'update on table \"client\" leaves rows referring to its old id',\n"
        "            DETAIL = 'Key (id)=(' || OLD.id || ') is still referenced.',\n"
        "            TABLE = 'client', COLUMN = 'id';\n"
        "    END IF;\n    RETURN NULL;\nEND\n$fn$"
    )
    yield (
        "CREATE TRIGGER client_id_still_referenced AFTER UPDATE OF id ON client "
        "FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) "
        "EXECUTE FUNCTION client_id_still_referenced()"
    )
    left = " OR ".join(
        f"EXISTS (SELECT 1 FROM {table} WHERE {column} IS NOT NULL)"  # noqa: S608
        for table, column, _, _ in references
    )
    yield (
        "CREATE OR REPLACE FUNCTION client_truncate_references() RETURNS trigger "
        "LANGUAGE plpgsql AS $fn$\nBEGIN\n"
        # Fired after every table of the TRUNCATE is emptied: truncating the dependants with
        # the clients passes.
        f"    IF {left} THEN\n"
        "        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',\n"
        "            MESSAGE = 'cannot truncate \"client\": other tables still refer to clients',\n"
        "            TABLE = 'client';\n"
        "    END IF;\n    RETURN NULL;\nEND\n$fn$"
    )
    yield (
        "CREATE TRIGGER client_truncate_references AFTER TRUNCATE ON client "
        "FOR EACH STATEMENT EXECUTE FUNCTION client_truncate_references()"
    )


def _present(db):
    """The references whose table exists. campaign_recipient comes with migration 1801,
    numbered after this one: a database built from scratch creates it later, with its
    declared foreign key (correct, checked per row); one that had it when this ran has it
    replaced here."""
    return [
        reference
        for reference in REFERENCES
        if db.execute_sql("SELECT to_regclass(%s)", (reference[0],)).fetchone()[0] is not None
    ]


def up(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        return
    references = _present(db)
    found = set(
        db.execute_sql(
            "SELECT conrelid::regclass::text, a.attname, confdeltype FROM pg_constraint k "
            "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] "
            "WHERE k.contype = 'f' AND k.confrelid = 'client'::regclass"
        ).fetchall()
    )
    expected = {
        (table, column, "c" if on_delete == "CASCADE" else "n")
        for table, column, on_delete, _ in references
    }
    if found != expected:  # a foreign key added since would go unenforced: refuse instead
        raise RuntimeError(
            f"1430 expects the foreign keys to client {sorted(expected)}, found {sorted(found)}"
        )
    for table, column, _, keys in references:
        db.execute_sql(f"ALTER TABLE {table} DROP CONSTRAINT {table}_{column}_fkey")
        for statement in _check_statements(table, column, keys):
            db.execute_sql(statement)
    for statement in (*_cascade_statements(references), *_guard_statements(references)):
        db.execute_sql(statement)


def down(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        return
    checked = {
        row[0]
        for row in db.execute_sql(
            "SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE '%%_client_check_insert'"
        ).fetchall()
    }
    db.execute_sql("DROP TRIGGER IF EXISTS client_references_cascade ON client")
    db.execute_sql("DROP TRIGGER IF EXISTS client_id_still_referenced ON client")
    db.execute_sql("DROP TRIGGER IF EXISTS client_truncate_references ON client")
    for name in (
        "client_references_cascade",
        "client_id_still_referenced",
        "client_truncate_references",
    ):
        db.execute_sql(f"DROP FUNCTION IF EXISTS {name}()")
    for table, column, on_delete, _ in REFERENCES:
        if table not in checked:  # it kept its declared foreign key
            continue
        for suffix in ("insert", "update"):
            db.execute_sql(f"DROP TRIGGER IF EXISTS {table}_client_check_{suffix} ON {table}")
            db.execute_sql(f"DROP FUNCTION IF EXISTS {table}_client_check_{suffix}()")
        db.execute_sql(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_{column}_fkey FOREIGN KEY ({column}) "
            f"REFERENCES client(id) ON DELETE {on_delete}"
        )
