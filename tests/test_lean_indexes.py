"""Migration 0310 drops only indexes a wider index still serves, on both databases."""

from __future__ import annotations

import importlib
import re

import peewee

from store.db import is_postgres

lean = importlib.import_module("store.migrations.0310_lean_indexes")
bot_index = importlib.import_module("store.migrations.1421_drop_client_bot_id")
value_index = importlib.import_module("store.migrations.1450_variable_value")
last_action = importlib.import_module("store.migrations.1922_drop_client_last_action_at")


def _indexes(db: peewee.Database, table: str) -> dict[str, list[str]]:
    """name -> columns, in order, of every index (primary key included) on ``table``."""
    if is_postgres(db):
        rows = db.execute_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", (table,)
        ).fetchall()
        # The first parentheses: a partial index's WHERE (1920) has its own after them.
        columns = {name: re.search(r"\(([^)]*)\)", ddl) for name, ddl in rows}
        assert all(columns.values()), rows  # every CREATE INDEX names its columns in ()
        return {
            name: [c.strip().strip('"') for c in found.group(1).split(",")]
            for name, found in columns.items()
            if found
        }
    found = {}
    for row in db.execute_sql(f'PRAGMA index_list("{table}")').fetchall():
        name = row[1]
        cols = db.execute_sql(f'PRAGMA index_info("{name}")').fetchall()
        found[name] = [c[2] for c in sorted(cols)]
    return found


def test_each_dropped_index_is_led_by_a_wider_one(db: peewee.Database) -> None:
    for name, (table, column) in lean.REDUNDANT.items():
        indexes = _indexes(db, table)
        assert name not in indexes
        wider = [n for n, cols in indexes.items() if cols[0] == column and len(cols) > 1]
        assert wider, f"{table}.{column} lost its last index"


def test_client_bot_id_is_gone_and_two_unique_indexes_lead_with_bot_id(db: peewee.Database) -> None:
    indexes = _indexes(db, "client")
    assert "client_bot_id" not in indexes
    led = sorted(cols for cols in indexes.values() if cols[0] == "bot_id")
    assert led == [["bot_id", "bsuid"], ["bot_id", "messenger_id"]]
    bot_index.down(None, db)
    assert _indexes(db, "client")["client_bot_id"] == ["bot_id"]
    bot_index.up(None, db)
    assert "client_bot_id" not in _indexes(db, "client")


def test_variable_values_are_indexed_value_first_on_postgresql_only(db: peewee.Database) -> None:
    """PostgreSQL cannot skip-scan ``(name, value, client_id)`` for ``var:=VALUE``; SQLite
    can, and keeps one index fewer to maintain."""
    expected = {value_index.INDEX: ["value", "client_id"]} if is_postgres(db) else {}
    led_by_value = {n: c for n, c in _indexes(db, "variable").items() if c[0] == "value"}
    assert led_by_value == expected
    value_index.down(None, db)
    assert value_index.INDEX not in _indexes(db, "variable")
    value_index.up(None, db)
    assert (value_index.INDEX in _indexes(db, "variable")) == is_postgres(db)


def test_last_action_at_is_indexed_only_after_pinned(db: peewee.Database) -> None:
    """Migration 1922: the list order's ``(pinned, last_action_at)`` is the only index of it."""
    with_it = {n: c for n, c in _indexes(db, "client").items() if "last_action_at" in c}
    assert with_it == {"client_pinned_last_action_at": ["pinned", "last_action_at"]}
    last_action.down(None, db)
    assert _indexes(db, "client")["client_last_action_at"] == ["last_action_at"]
    last_action.up(None, db)
    assert "client_last_action_at" not in _indexes(db, "client")
