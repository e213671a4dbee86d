"""Starting up: settings -> an open, checked store, for the CLI, `serve` and the workers."""

from __future__ import annotations

import logging

import peewee

from config import Settings
from store.db import open_database
from store.migrate import require_current_schema
from store.setup import bootstrap_operators, sync_bots

log = logging.getLogger("switchboard")


def open_store(settings: Settings, *, check_schema: bool = True) -> peewee.Database:
    """Open the configured database; with ``check_schema`` refuse an unmigrated one and
    mirror the configured bots and operators into it."""
    database = open_database(settings.database_url)
    database.connect(reuse_if_open=True)
    if check_schema:
        require_current_schema(database)
        sync_bots((bot.name, bot.kind) for bot in settings.bots)
        bootstrap_operators(
            (op.telegram_id, op.role, op.name, op.email) for op in settings.operators
        )
    return database
