"""The store's errors: one hierarchy, one file."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store raises on purpose."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or answered with a connection-level error."""


class MigrationRequired(StoreError):
    """The schema is older than the code: run ``switchboard migrate``."""


class NotFound(StoreError):
    """A named thing (client, list, label, operator, bot) does not exist."""
