"""Unread clients (SPEC F10 Unanswered, F15 counters): the one place that reads and writes them.

Every writer marks clients read or unread through ``mark_read`` / ``mark_unread`` (one
set-based statement each, only the clients that change are written), every reader tests it
with ``unread_flag`` (in a select list), ``unread_ids`` (a subquery) or ``is_unread``;
``store.filters.sql.unread`` is the filter's condition. The flag is still the indexed column
``client.unread`` (``(unread, responsible_id, id)``, migrations 1411/1412); keeping its
storage behind these functions is the first step of moving it to a narrow table of its own
(issue 14 item 4: on PostgreSQL an indexed column makes every read client a non-HOT update
that writes all 11 indexes of ``client``). Ingest (``store.inbound``) still sets the column
inside its batched client ``UPDATE``: a separate statement would write each row twice.

An admin's counter is the project's total; an operator's only the clients bound to them
(not the free ones, which every operator can see but nobody yet answers for). Served by the
index above.
"""

from __future__ import annotations

from collections.abc import Iterable

import peewee as pw

from store.filters.sql import CLIENT_ID, unread
from store.models import Client, Operator

__all__ = [
    "is_unread",
    "mark_read",
    "mark_unread",
    "unread_count",
    "unread_flag",
    "unread_ids",
]

Ids = pw.Select | Iterable[int]


def unread_ids() -> pw.Select:
    """The ids of the unread clients, as a subquery."""
    return Client.select(CLIENT_ID).where(unread())


def unread_flag() -> pw.ColumnBase:
    """Whether the enclosing query's ``client`` row is unread, for a select list."""
    return Client.unread


def is_unread(client_id: int) -> bool:
    return Client.select().where(Client.id == client_id, unread()).exists()


def _set(client_ids: Ids | None, value: bool) -> int:
    # Only rows that differ are written: no-op rows cost no WAL / dead tuples.
    query = Client.update(unread=value).where(Client.unread == (not value))
    if client_ids is not None:
        if not isinstance(client_ids, pw.Select):
            client_ids = sorted(set(client_ids))
            if not client_ids:
                return 0
        query = query.where(CLIENT_ID.in_(client_ids))
    return int(query.execute())


def mark_unread(client_ids: Ids | None) -> int:
    """Mark the clients unread in one statement (``None``: every client); how many were read
    before. ``client_ids``: ids or a subquery of ids."""
    return _set(client_ids, True)


def mark_read(client_ids: Ids | None) -> int:
    """Mark the clients read in one statement (``None``: every client); how many were unread.
    ``client_ids``: ids or a subquery of ids."""
    return _set(client_ids, False)


def unread_count(viewer: Operator) -> int:
    """Unread dialogs ``viewer`` answers for: every one for an admin, their own otherwise."""
    query = Client.select(CLIENT_ID).where(unread())
    if not viewer.is_admin:
        query = query.where(Client.responsible == viewer.id)
    return int(query.count())
