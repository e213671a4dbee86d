"""Versioned schema migrations: the files in ``store/migrations`` run by peewee's own runner.

A migration is ``NNNN_name.py`` with ``up(migrator, db)``; applied names are recorded in the
``schema_migration`` table, so running ``migrate`` twice changes nothing the second time.
Number new migrations after the highest one present; each declares frozen copies of the
tables it creates, never imports ``store.models`` (the models move on, a migration must not).
"""

from __future__ import annotations

from pathlib import Path

import peewee
from playhouse.migrations import Runner

from store import deferred_indexes
from store.db import database_proxy
from store.errors import MigrationRequired, StoreUnavailable

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _runner(database: peewee.Database) -> Runner:
    return Runner(database, directory=str(MIGRATIONS_DIR))


def pending_migrations(database: peewee.Database) -> list[str]:
    """Names of the migrations not yet applied, in the order they would run."""
    try:
        return [m.name for m in _runner(database).status() if not m.applied and m.path]
    except peewee.OperationalError as exc:
        raise StoreUnavailable(str(exc).splitlines()[0]) from exc


def migrate(database: peewee.Database) -> list[str]:
    """Apply every pending migration; returns the names applied (empty when up to date).
    Indexes a killed import left dropped are recreated first: a migration may change them."""
    if database_proxy.obj is database and pending_migrations(database):
        deferred_indexes.restore()
    return list(_runner(database).up())


def require_current_schema(database: peewee.Database) -> None:
    """Raise ``MigrationRequired`` unless every migration has been applied."""
    pending = pending_migrations(database)
    if pending:
        raise MigrationRequired(
            f"the database schema is not up to date ({len(pending)} migration(s) pending, "
            f"first {pending[0]}): run `./switchboard migrate`"
        )
