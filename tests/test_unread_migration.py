"""Migration 1910 (issue 14 item 4): the unread flag moves from the column ``client.unread`` to
the narrow table ``client_unread`` with each client's responsible, and back with ``down``, on
SQLite and PostgreSQL; the new table's rows go with their clients and name existing ones."""

from __future__ import annotations

import importlib

import peewee
import pytest

from store.db import is_postgres
from store.models import Client, ClientUnread
from tests.factories import client, operator

MIGRATION = importlib.import_module("store.migrations.1910_client_unread_table")
MISSING = 10**9  # no client has this id


def _columns(db: peewee.Database) -> set[str]:
    return {column.name for column in db.get_columns("client")}


def _indexes(db: peewee.Database) -> set[str]:
    return {index.name for index in db.get_indexes("client")}


def _narrow() -> dict[int, int | None]:
    return {row.client_id: row.responsible_id for row in ClientUnread.select()}


def test_down_and_up_move_the_flags_and_the_responsible(db: peewee.Database) -> None:
    anna = operator(2, "Anna")
    a = client("a", unread=True, responsible=anna)
    b = client("b", unread=True)
    c = client("c", responsible=anna)
    d = client("d")
    assert "unread" not in _columns(db) and MIGRATION.OLD_INDEX not in _indexes(db)
    MIGRATION.down(None, db)
    assert not db.table_exists("client_unread")
    assert "unread" in _columns(db) and MIGRATION.OLD_INDEX in _indexes(db)
    flags = {i: bool(f) for i, f in db.execute_sql("SELECT id, unread FROM client").fetchall()}
    assert flags == {a.id: True, b.id: True, c.id: False, d.id: False}
    # Written the old way while the column is back: up takes it over.
    db.execute_sql(
        f"UPDATE client SET unread = {'TRUE' if is_postgres() else '1'} WHERE id = {c.id}"
    )
    MIGRATION.up(None, db)
    assert "unread" not in _columns(db) and MIGRATION.OLD_INDEX not in _indexes(db)
    assert _narrow() == {a.id: anna.id, b.id: None, c.id: anna.id}
    # Deleting a client deletes its row (PostgreSQL: the client's cascade trigger, rebuilt).
    Client.delete().where(Client.id.in_([a.id, d.id])).execute()
    assert _narrow() == {b.id: None, c.id: anna.id}
    with pytest.raises(peewee.IntegrityError), db.atomic():
        ClientUnread.create(client=MISSING)
    # Deleting an operator frees the rows (ON DELETE SET NULL, declared on both).
    anna.delete_instance()
    assert _narrow() == {b.id: None, c.id: None}


def test_postgres_checks_the_client_once_per_statement(pg_db: peewee.Database) -> None:
    """1430's statement-level check and cascade, after 1910's ``down`` and ``up`` too."""
    for _ in range(2):
        triggers = {
            name
            for (name,) in pg_db.execute_sql(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'client_unread'::regclass "
                "AND NOT tgisinternal"
            ).fetchall()
        }
        assert triggers == {
            "client_unread_client_check_insert",
            "client_unread_client_check_update",
        }
        declared = pg_db.execute_sql(
            "SELECT confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid = 'client_unread'::regclass"
        ).fetchall()
        assert declared == [("operator",)]
        (cascade,) = pg_db.execute_sql(
            "SELECT prosrc FROM pg_proc WHERE proname = 'client_references_cascade'"
        ).fetchone()
        assert "DELETE FROM client_unread WHERE client_id = ANY (ids)" in cascade
        MIGRATION.down(None, pg_db)
        (cascade,) = pg_db.execute_sql(
            "SELECT prosrc FROM pg_proc WHERE proname = 'client_references_cascade'"
        ).fetchone()
        assert "client_unread" not in cascade
        MIGRATION.up(None, pg_db)
