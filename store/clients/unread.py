"""Unread clients (SPEC F10 Unanswered, F15 counters): the one place that reads and writes them.

An unread client is a row of the narrow table ``client_unread (client_id, responsible_id)``
(``store.models.ClientUnread``, migration 1910): marking read deletes rows, marking unread
inserts them, and no ``client`` row is written (on PostgreSQL the old indexed column
``client.unread`` made every change a non-HOT update writing all of ``client``'s indexes:
3.3-3.9 s to mark 79,804 clients read at a million). Every writer goes through ``mark_read`` /
``mark_unread`` (one set-based statement each, only the clients that change are written);
ingest (``store.inbound``) calls ``mark_unread`` once per write batch. Readers test it with
``unread_flag`` (in a select list), ``unread_ids`` (a subquery) or ``is_unread``;
``store.filters.sql.unread`` is the filter's condition.

``responsible_id`` is a copy of the client's, so that the Unanswered tab by operator, an
operator's scope and badge are counted from this table alone (``(responsible_id, client_id)``
index; joined back to ``client`` they took 100-500 ms at a million clients). Every writer of
``Client.responsible`` keeps it in step in the same transaction: ``follow_responsible`` (an
assignment of given clients) or ``free_unread_of`` (an operator's clients freed); deleting an
operator nulls both by their foreign keys (``ON DELETE SET NULL``).

An admin's counter is the project's total; an operator's only the clients bound to them
(not the free ones, which every operator can see but nobody yet answers for).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import peewee as pw

from store.filters.sql import CLIENT_ID, among
from store.models import Client, ClientUnread, Operator

__all__ = [
    "follow_responsible",
    "free_unread_of",
    "is_unread",
    "mark_read",
    "mark_unread",
    "unread_count",
    "unread_flag",
    "unread_ids",
]

Ids = pw.Select | Iterable[int]
UNREAD_ID = cast(pw.Field, ClientUnread.client)  # the column client_unread.client_id


def unread_ids() -> pw.Select:
    """The ids of the unread clients, as a subquery."""
    return ClientUnread.select(UNREAD_ID)


def unread_flag() -> pw.ColumnBase:
    """Whether the enclosing query's ``client`` row is unread, for a select list."""
    return pw.fn.EXISTS(ClientUnread.select(pw.SQL("1")).where(UNREAD_ID == CLIENT_ID))


def is_unread(client_id: int) -> bool:
    return bool(ClientUnread.select().where(ClientUnread.client == client_id).exists())


def _among(column: pw.ColumnBase, client_ids: Ids) -> pw.ColumnBase | None:
    """``column IN client_ids`` (ids bound as one parameter); None for no ids."""
    if isinstance(client_ids, pw.Select):
        return column.in_(client_ids)
    ids = sorted(set(client_ids))
    return among(column, ids) if ids else None


def mark_unread(client_ids: Ids | None) -> int:
    """Mark the clients unread in one statement (``None``: every client), each with its
    current responsible; how many were read before. ``client_ids``: ids or a subquery of ids."""
    rows = Client.select(CLIENT_ID, Client.responsible)
    if client_ids is not None:
        which = _among(CLIENT_ID, client_ids)
        if which is None:
            return 0
        rows = rows.where(which)
    fields = [ClientUnread.client, ClientUnread.responsible]
    # Already unread: left as they are (ON CONFLICT DO NOTHING / INSERT OR IGNORE).
    query = ClientUnread.insert_from(rows, fields).on_conflict_ignore().as_rowcount()
    return int(query.execute())


def mark_read(client_ids: Ids | None) -> int:
    """Mark the clients read in one statement (``None``: every client); how many were unread.
    ``client_ids``: ids or a subquery of ids."""
    query = ClientUnread.delete()
    if client_ids is not None:
        which = _among(UNREAD_ID, client_ids)
        if which is None:
            return 0
        query = query.where(which)
    return int(query.execute())


def follow_responsible(client_ids: Ids | None, operator_id: int | None) -> int:
    """The clients (``None``: every client) were just bound to ``operator_id`` (None: freed):
    copy that to their unread rows, in the caller's transaction; how many rows changed."""
    differs = (
        ClientUnread.responsible.is_null(False)
        if operator_id is None
        else (ClientUnread.responsible.is_null() | (ClientUnread.responsible != operator_id))
    )
    query = ClientUnread.update(responsible=operator_id).where(differs)
    if client_ids is not None:
        which = _among(UNREAD_ID, client_ids)
        if which is None:
            return 0
        query = query.where(which)
    return int(query.execute())


def free_unread_of(operator_id: int) -> int:
    """The clients bound to ``operator_id`` were just freed: so are their unread rows."""
    query = ClientUnread.update(responsible=None).where(ClientUnread.responsible == operator_id)
    return int(query.execute())


def unread_count(viewer: Operator) -> int:
    """Unread dialogs ``viewer`` answers for: every one for an admin, their own otherwise.
    Counted from ``client_unread`` alone (an operator's: a range of its responsible index)."""
    query = ClientUnread.select(pw.fn.COUNT(pw.SQL("*")))
    if not viewer.is_admin:
        query = query.where(ClientUnread.responsible == viewer.id)
    return int(query.scalar() or 0)
