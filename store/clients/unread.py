"""Unread counters (SPEC F15): how many dialogs wait for an answer.

An admin sees the project's total; an operator only the clients bound to them (not the free
ones, which every operator can see but nobody yet answers for). Served by the index on
``client.unread``.
"""

from __future__ import annotations

from store.filters.sql import CLIENT_ID
from store.models import Client, Operator


def unread_count(viewer: Operator) -> int:
    """Unread dialogs ``viewer`` answers for: every one for an admin, their own otherwise."""
    query = Client.select(CLIENT_ID).where(Client.unread == True)  # noqa: E712
    if not viewer.is_admin:
        query = query.where(Client.responsible == viewer.id)
    return int(query.count())
