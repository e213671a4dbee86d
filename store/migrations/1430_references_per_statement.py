"""Foreign keys to clients, labels and lists checked once per statement, not once per row
(issue 14 items 4 and 7). PostgreSQL only; SQLite keeps its declared foreign keys, cheap there.

PostgreSQL enforces a foreign key with a trigger per row: adding a label to 100,000 clients ran
200,000 existence checks (the client, the label), and deleting 100,000 clients ran, per
referencing table, 100,000 cascade triggers (each a ``DELETE ... WHERE client_id = $1``), even
after the dependants were gone. This migration drops the foreign keys to ``client``, ``label``
and ``mailing_list`` and enforces the same rules with statement-level triggers over transition
tables:

- ``<parent>_references_cascade`` (``AFTER DELETE`` on the parent, per statement): the deleted
  ids gathered once, then one ``DELETE`` (``ON DELETE CASCADE``; ``UPDATE ... SET NULL`` for
  ``ON DELETE SET NULL``) per referencing table for all of them;
- ``<table>_<parent>_check_insert`` / ``_update`` (``AFTER INSERT`` / ``AFTER UPDATE`` on each
  referencing table, per statement): the distinct ids referenced are locked ``FOR KEY SHARE``
  in one statement, as the built-in check locks each (a concurrent delete of the parent row
  waits for this transaction, or this check waits for the delete and then sees the row gone);
  fewer rows locked than ids means one is missing: ``foreign_key_violation`` (SQLSTATE 23503)
  with the old constraint's name, the table, the column and a missing id. NULL passes. An
  ``UPDATE`` checks only the rows whose reference (or identity) it changed, like the built-in;
- ``<parent>_id_still_referenced`` (``AFTER UPDATE OF id``, per changed row; ids never change
  in practice) and ``<parent>_truncate_references`` (``AFTER TRUNCATE``) refuse to leave rows
  pointing at a parent that is gone, as ``ON UPDATE NO ACTION`` and the refusal to truncate a
  referenced table did (the latter now only when such rows exist).

Since migration 1960 the checks of a statement referring to more than ``LARGE`` distinct clients
take one advisory lock instead of the row locks, and the client's cascade and id guard take it
shared (see ``LARGE``); the builders below emit that form, 1960 applies it to databases
migrated before it.

Migrations run in number order: on a database built from scratch this one runs before 1801
creates ``campaign_recipient``, whose declared foreign key migration 1903 then converts the same
way; a database that had the table when this ran has it replaced here (``_present``). The same
holds for ``client_unread``, created and converted by migration 1910.
``down`` drops the triggers and functions and restores the constraints.
"""

from peewee import PostgresqlDatabase

# Every foreign key to client, label and mailing_list as migration 1802 left them
# (pg_constraint, contype 'f'): table, column, parent, ON DELETE action, the columns naming
# one row (for an UPDATE's changed rows).
REFERENCES = (
    ("admin_notice", "client_id", "client", "CASCADE", ("id",)),
    ("block_history", "client_id", "client", "CASCADE", ("id",)),
    ("campaign_recipient", "client_id", "client", "CASCADE", ("client_id", "campaign_id")),
    ("client_unread", "client_id", "client", "CASCADE", ("client_id",)),  # 1910 converts it
    ("label_membership", "client_id", "client", "CASCADE", ("client_id", "label_id")),
    ("list_membership", "client_id", "client", "CASCADE", ("client_id", "mailing_list_id")),
    ("message", "client_id", "client", "CASCADE", ("id",)),
    ("variable", "client_id", "client", "CASCADE", ("id",)),
    ("label_membership", "label_id", "label", "CASCADE", ("client_id", "label_id")),
    (
        "list_membership",
        "mailing_list_id",
        "mailing_list",
        "CASCADE",
        ("client_id", "mailing_list_id"),
    ),
)
PARENTS = ("client", "label", "mailing_list")

# The rows of new_rows whose reference to check: every row of an INSERT; of an UPDATE the rows
# whose reference (or identity) changed, since an unchanged reference was checked when written.
INSERTED = "new_rows n"
CHANGED = "new_rows n WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE {same})"

# Plain queries over the transition tables, no parameters: their plans are made once per
# session (passing the ids as an array parameter re-planned every statement: a single-row
# insert cost ~60 µs more per reference than the built-in check).
CHECK = """
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    wanted bigint;
    locked bigint;
    missing bigint;{declare}
BEGIN
    -- One query: the distinct ids referenced, sorted, and the rows among them locked in one
    -- walk of the primary key in order (a hash join over the transition table probed it in
    -- random order, 3-4 times slower at 100,000 of 1,000,000). The lock waits for a concurrent
    -- delete of one of these rows and skips the row once it is gone: fewer locked than
    -- referenced means one is missing.
    -- (MATERIALIZED: inlined, the array would be built twice.)
    WITH ids (a) AS MATERIALIZED (
        SELECT ARRAY(SELECT DISTINCT n.{column} FROM {rows} AND n.{column} IS NOT NULL ORDER BY 1)
    )
    SELECT cardinality(ids.a), {locked}
    FROM ids;{large}
    IF locked < wanted THEN
        SELECT n.{column} INTO missing FROM {rows}
            AND n.{column} IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = n.{column})
        LIMIT 1;
        RAISE EXCEPTION USING
            ERRCODE = 'foreign_key_violation',
            MESSAGE = 'insert or update on table "{table}" violates foreign key constraint '
                      '"{table}_{column}_fkey"',
            DETAIL = 'Key ({column})=(' || coalesce(missing::text, '?')
                     || ') is not present in table "{parent}".',
            TABLE = '{table}', COLUMN = '{column}', CONSTRAINT = '{table}_{column}_fkey';
    END IF;
    RETURN NULL;
END
$fn$
"""
ROW_LOCKS = """(
        SELECT count(*) FROM (
            SELECT 1 FROM {parent} p WHERE p.id = ANY (ids.a) FOR KEY SHARE OF p
        ) AS l
    )"""

# Migration 1960 (issue 14 item 4): a statement referring to more than LARGE distinct clients
# does not lock them one by one. Locking 100,000 rows FOR KEY SHARE writes the lock into
# every heap page holding one (~15,600 pages of ``client`` for a bulk label-add: dirtied,
# WAL full-page images). Instead it takes the transaction-level advisory lock ``KEYS[parent]``
# exclusively and then counts the rows with a fresh snapshot (READ COMMITTED: each statement
# of the function takes one). Every DELETE of the parent (its cascade trigger) and every
# change of its id (the guard) takes the same lock shared before acting, so:
# - a delete whose cascade ran first holds the lock until it commits: the check waits, then
#   sees the row gone and refuses (23503);
# - a check that took the lock first holds it until its transaction ends: the delete's cascade
#   waits, then (a fresh snapshot again) sees and deletes the rows the insert committed.
# Deletes never wait for each other (shared), nor for small statements, which keep the row
# locks: ingest's batches (≤ 40 clients) and single-row writes never wait for a bulk action.
# Two large statements in different transactions do wait for each other (exclusive).
# READ COMMITTED is assumed (the store's level): under REPEATABLE READ the cascade's snapshot
# would predate the insert's commit, as it would with the row locks.
LARGE = 1000
KEYS = {"client": 19_600_001}  # pg_advisory_xact_lock's bigint key; no other lock uses it
LARGE_DECLARE = "\n    many bigint[];"
LARGE_LOCKS = """CASE WHEN cardinality(ids.a) <= {large} THEN {row_locks} END,
        CASE WHEN cardinality(ids.a) > {large} THEN ids.a END
    INTO wanted, locked, many"""
LARGE_CHECK = """
    IF many IS NOT NULL THEN  -- more than {large} ids: the advisory lock, then a plain count
        PERFORM pg_advisory_xact_lock({key});
        SELECT count(*) INTO locked FROM {parent} p WHERE p.id = ANY (many);
    END IF;"""

CHECK_TRIGGER = (
    "CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {tables} "
    "FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
)
TRANSITION_TABLES = {
    "insert": "NEW TABLE AS new_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
}

# The cascade and the id guard of a parent of KEYS take its lock before they act.
LOCK_SHARED = "    PERFORM pg_advisory_xact_lock_shared({key});\n"
# The cascade with nothing deleted (a statement trigger fires for an empty DELETE too): no
# lock, no wait.
NOTHING_DELETED = "    IF cardinality(ids) = 0 THEN\n        RETURN NULL;\n    END IF;\n"


def _check_statements(table, column, parent, keys, large=True):
    """The check functions and triggers of ``table.column``. A parent of ``KEYS`` (unless
    ``large`` is false: 1960's ``down``) is checked under its advisory lock above ``LARGE``
    ids, row locks below; any other parent, row locks always."""
    lock_key = KEYS.get(parent) if large else None
    same = " AND ".join(f"o.{key} = n.{key}" for key in dict.fromkeys((*keys, column)))
    row_locks = ROW_LOCKS.format(parent=parent)
    if lock_key is None:
        declare, locked, large_check = "", row_locks + " INTO wanted, locked", ""
    else:
        declare = LARGE_DECLARE
        locked = LARGE_LOCKS.format(large=LARGE, row_locks=row_locks)
        large_check = LARGE_CHECK.format(large=LARGE, key=lock_key, parent=parent)
    for event, rows in (
        ("insert", INSERTED + " WHERE TRUE"),
        ("update", CHANGED.format(same=same)),
    ):
        name = f"{table}_{parent}_check_{event}"
        yield CHECK.format(
            function=name,
            rows=rows,
            column=column,
            table=table,
            parent=parent,
            declare=declare,
            locked=locked,
            large=large_check,
        )
        yield CHECK_TRIGGER.format(
            name=name, event=event.upper(), table=table, tables=TRANSITION_TABLES[event]
        )


def _cascade_statements(parent, references, large=True):
    """The cascade function and trigger of ``parent``: with its ``KEYS`` advisory lock taken
    shared first (unless ``large`` is false), as the checks of large statements expect."""
    lock_key = KEYS.get(parent) if large else None
    lock = "" if lock_key is None else NOTHING_DELETED + LOCK_SHARED.format(key=lock_key)
    # The names are the constants above: no outside text reaches these statements.
    actions = [
        f"DELETE FROM {table} WHERE {column} = ANY (ids);"  # noqa: S608
        if on_delete == "CASCADE"
        else f"UPDATE {table} SET {column} = NULL WHERE {column} = ANY (ids);"  # noqa: S608
        for table, column, _, on_delete, _ in references
    ]
    body = "\n    ".join(actions)
    yield (
        f"CREATE OR REPLACE FUNCTION {parent}_references_cascade() RETURNS trigger "  # noqa: S608
        "LANGUAGE plpgsql AS $fn$\nDECLARE\n    ids bigint[];\nBEGIN\n"
        # Gathered once: reading old_rows (whole rows) again per table cost as much as the deletes.
        "    ids := ARRAY(SELECT id::bigint FROM old_rows);\n"
        f"{lock}"
        f"    {body}\n    RETURN NULL;\nEND\n$fn$"
    )
    yield (
        f"CREATE TRIGGER {parent}_references_cascade AFTER DELETE ON {parent} "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {parent}_references_cascade()"
    )


def _guard_statements(parent, references, large=True):
    """``parent``'s guards against an id change and a truncate leaving rows behind; the id
    change takes the ``KEYS`` lock shared first, as a delete does (unless ``large`` is false)."""
    lock_key = KEYS.get(parent) if large else None
    lock = "" if lock_key is None else LOCK_SHARED.format(key=lock_key)
    still = " OR ".join(
        f"EXISTS (SELECT 1 FROM {table} WHERE {column} = OLD.id)"  # noqa: S608
        for table, column, _, _, _ in references
    )
    yield (
        f"CREATE OR REPLACE FUNCTION {parent}_id_still_referenced() RETURNS trigger "  # noqa: S608
        "LANGUAGE plpgsql AS $fn$\nBEGIN\n"
        f"{lock}"
        # Another row may have taken the old id in the same statement (ids swapped).
        f"    IF NOT EXISTS (SELECT 1 FROM {parent} WHERE id = OLD.id) AND ({still}) THEN\n"
        "        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',\n"
        f"            MESSAGE = 'update on table \"{parent}\" leaves rows referring to its old id',\n"
        "            DETAIL = 'Key (id)=(' || OLD.id || ') is still referenced.',\n"
        f"            TABLE = '{parent}', COLUMN = 'id';\n"
        "    END IF;\n    RETURN NULL;\nEND\n$fn$"
    )
    yield (
        f"CREATE TRIGGER {parent}_id_still_referenced AFTER UPDATE OF id ON {parent} "
        "FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) "
        f"EXECUTE FUNCTION {parent}_id_still_referenced()"
    )
    left = " OR ".join(
        f"EXISTS (SELECT 1 FROM {table} WHERE {column} IS NOT NULL)"  # noqa: S608
        for table, column, _, _, _ in references
    )
    yield (
        f"CREATE OR REPLACE FUNCTION {parent}_truncate_references() RETURNS trigger "
        "LANGUAGE plpgsql AS $fn$\nBEGIN\n"
        # Fired after every table of the TRUNCATE is emptied: truncating the referencing
        # tables along with the parent passes.
        f"    IF {left} THEN\n"
        "        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',\n"
        f"            MESSAGE = 'cannot truncate \"{parent}\": other tables still refer to it',\n"
        f"            TABLE = '{parent}';\n"
        "    END IF;\n    RETURN NULL;\nEND\n$fn$"
    )
    yield (
        f"CREATE TRIGGER {parent}_truncate_references AFTER TRUNCATE ON {parent} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {parent}_truncate_references()"
    )


def _present(db):
    """The references whose table exists (campaign_recipient: see the docstring)."""
    return [
        reference
        for reference in REFERENCES
        if db.execute_sql("SELECT to_regclass(%s)", (reference[0],)).fetchone()[0] is not None
    ]


def _declared(db):
    return set(
        db.execute_sql(
            "SELECT conrelid::regclass::text, a.attname, confrelid::regclass::text, confdeltype "
            "FROM pg_constraint k "
            "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] "
            "WHERE k.contype = 'f' AND k.confrelid IN ('client'::regclass, 'label'::regclass, "
            "'mailing_list'::regclass)"
        ).fetchall()
    )


def up(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        return
    references = _present(db)
    expected = {
        (table, column, parent, "c" if on_delete == "CASCADE" else "n")
        for table, column, parent, on_delete, _ in references
    }
    found = _declared(db)
    if found != expected:  # a foreign key added since would go unenforced: refuse instead
        raise RuntimeError(
            f"1430 expects the foreign keys {sorted(expected)}, found {sorted(found)}"
        )
    for table, column, parent, _, keys in references:
        db.execute_sql(f"ALTER TABLE {table} DROP CONSTRAINT {table}_{column}_fkey")
        for statement in _check_statements(table, column, parent, keys):
            db.execute_sql(statement)
    for parent in PARENTS:
        of_parent = [reference for reference in references if reference[2] == parent]
        for statement in (
            *_cascade_statements(parent, of_parent),
            *_guard_statements(parent, of_parent),
        ):
            db.execute_sql(statement)


GUARDS = ("references_cascade", "id_still_referenced", "truncate_references")


def _drop_guards(db, parent):
    """Drops ``parent``'s cascade and guard triggers and their functions."""
    for name in GUARDS:
        db.execute_sql(f"DROP TRIGGER IF EXISTS {parent}_{name} ON {parent}")
        db.execute_sql(f"DROP FUNCTION IF EXISTS {parent}_{name}()")


def _restore_declared(db, table, column, parent, on_delete):
    """Drops the statement-level checks of ``table.column`` and declares its foreign key again
    (the ``down`` of this migration and of 1480, which converted ``message.bot_id`` the same way).
    """
    for event in ("insert", "update"):
        db.execute_sql(f"DROP TRIGGER IF EXISTS {table}_{parent}_check_{event} ON {table}")
        db.execute_sql(f"DROP FUNCTION IF EXISTS {table}_{parent}_check_{event}()")
    db.execute_sql(
        f"ALTER TABLE {table} ADD CONSTRAINT {table}_{column}_fkey FOREIGN KEY ({column}) "
        f"REFERENCES {parent}(id) ON DELETE {on_delete}"
    )


def down(migrator, db):
    if not isinstance(db, PostgresqlDatabase):
        return
    for parent in PARENTS:
        _drop_guards(db, parent)
    for table, column, parent, on_delete, _ in REFERENCES:
        checked = db.execute_sql(
            "SELECT 1 FROM pg_trigger WHERE tgname = %s", (f"{table}_{parent}_check_insert",)
        ).fetchone()
        if checked is None:  # it kept its declared foreign key
            continue
        _restore_declared(db, table, column, parent, on_delete)
