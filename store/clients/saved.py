"""Saved filters (SPEC F12): each operator keeps filter texts under names of their own.

A saved filter is applied by writing ``saved:NAME`` in a filter (``store.filters`` expands it
into its conditions), or by fetching its text with ``get_saved``. The text is checked when
saved, so a saved filter always parsed at the time it was saved (a list it names may be
deleted later; applying it then reports that name).
"""

from __future__ import annotations

import zoneinfo
from typing import Final

from store.clients.names import ActionError
from store.db import write_transaction
from store.filters import parse_filter
from store.filters.resolve import nearest
from store.filters.syntax import tokenize
from store.models import Operator, SavedFilter

MAX_NAME: Final = 100  # SavedFilter.name width


def _operator_id(viewer: Operator) -> int:
    if viewer.id is None:
        raise ActionError("saved filters belong to an operator: act as one (--as TELEGRAM_ID)")
    return viewer.id


def _check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ActionError("a saved filter needs a name")
    if len(name) > MAX_NAME:
        raise ActionError(f"saved filter name longer than {MAX_NAME} characters")
    return name


def save_filter(viewer: Operator, name: str, text: str, zone: zoneinfo.ZoneInfo) -> bool:
    """Save ``text`` under ``name`` for ``viewer`` (replacing one of the same name); returns
    True when it replaced one. Raises ``FilterError`` for a bad text, ``ActionError`` for a bad
    name or a filter that names itself."""
    owner = _operator_id(viewer)
    name = _check_name(name)
    text = text.strip()
    if not text:
        raise ActionError(f"saved filter {name!r}: the filter text is empty")
    for term in tokenize(text):
        if term.key == "saved" and term.text() == name:
            raise ActionError(f"saved filter {name!r} cannot include itself ({term.token})")
    parse_filter(text, viewer, zone)
    with write_transaction():
        replaced = (
            SavedFilter.update(query=text)
            .where((SavedFilter.operator == owner) & (SavedFilter.name == name))
            .execute()
        )
        if not replaced:
            SavedFilter.create(operator=owner, name=name, query=text)
    return bool(replaced)


def list_saved(viewer: Operator) -> list[SavedFilter]:
    """``viewer``'s saved filters, by name."""
    if viewer.id is None:
        return []
    return list(
        SavedFilter.select().where(SavedFilter.operator == viewer.id).order_by(SavedFilter.name)
    )


def get_saved(viewer: Operator, name: str) -> SavedFilter:
    """``viewer``'s saved filter ``name``; ``ActionError`` naming the nearest one if missing."""
    row = SavedFilter.get_or_none(
        (SavedFilter.operator == _operator_id(viewer)) & (SavedFilter.name == name.strip())
    )
    if row is None:
        names = [r.name for r in list_saved(viewer)]
        raise ActionError(f"no saved filter named {name!r}", suggestion=nearest(name, names))
    return row


def delete_saved(viewer: Operator, name: str) -> None:
    """Delete ``viewer``'s saved filter ``name`` (``ActionError`` if there is none)."""
    row = get_saved(viewer, name)
    SavedFilter.delete().where(SavedFilter.id == row.id).execute()
