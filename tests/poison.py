"""Poison on purpose: make the database itself refuse some inbound messages.

The refusal lives in the database (a trigger on SQLite, a CHECK constraint on PostgreSQL), so
it keeps failing the store whatever cleaning the boundary does before: the tests of the
writer's failure isolation stay meaningful as the boundary gets stricter.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import peewee

from store.db import is_postgres


@contextlib.contextmanager
def refused_texts(database: peewee.Database, pattern: str = "poison%") -> Iterator[None]:
    """While inside, inserting a message whose text is ``LIKE pattern`` fails with an
    integrity error (the whole statement, as a real constraint would)."""
    # DDL takes no bound parameters: the pattern is spliced in, so it may only be plain.
    if not re.fullmatch(r"[A-Za-z0-9_%-]*", pattern):
        raise ValueError(f"refused_texts: pattern {pattern!r} must be letters, digits, _ - %")
    if is_postgres(database):
        database.execute_sql(
            "ALTER TABLE message ADD CONSTRAINT test_refused "
            f"CHECK (text NOT LIKE '{pattern.replace('%', '%%')}') NOT VALID"
        )
        undo = "ALTER TABLE message DROP CONSTRAINT test_refused"
    else:
        database.execute_sql(
            f"CREATE TRIGGER test_refused BEFORE INSERT ON message WHEN NEW.text LIKE '{pattern}' "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )
        undo = "DROP TRIGGER test_refused"
    try:
        yield
    finally:
        database.execute_sql(undo)
