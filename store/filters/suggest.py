"""The values a filter key can take, for completion as the operator types (SPEC F11).

Each source returns the known names of one kind, sorted, at most ``MAX_NAMES``: lists,
labels, blocks and bots are small tables read whole; deal stages and variable names live on
the large tables (a row per client), so their distinct values are read by a loose index scan
(one index probe per distinct value, never a walk over a million rows).
``store.filters.registry`` names the source of each filter; ``store.filters.complete`` uses them.
"""

from __future__ import annotations

from typing import Any, Final

import peewee as pw

from store.models import Block, Bot, Client, Label, MailingList, Operator, SavedFilter, Variable

MAX_NAMES: Final = 500  # names of one kind offered at most (the completion narrows them)


def _names(model: type[pw.Model]) -> list[str]:
    name: Any = model._meta.fields["name"]
    rows: Any = model.select(name).order_by(name).limit(MAX_NAMES).tuples()
    return [row[0] for row in rows]


def list_names(_viewer: Operator) -> list[str]:
    return _names(MailingList)


def label_names(_viewer: Operator) -> list[str]:
    return _names(Label)


def block_names(_viewer: Operator) -> list[str]:
    return _names(Block)


def bot_names(_viewer: Operator) -> list[str]:
    return _names(Bot)


def distinct_values(column: pw.Field) -> list[str]:
    """The distinct non-null values of an indexed ``column``, sorted, at most ``MAX_NAMES``:
    a recursive query that asks the index for the next value above the last one found."""
    model: Any = column.model
    # NOT NULL changes no MIN, and lets a partial index of the non-NULL values serve (1920).
    first = (
        model.select(pw.fn.MIN(column).alias("x"))
        .where(column.is_null(False))
        .cte("v", recursive=True, columns=("x",))
    )
    following = model.select(pw.fn.MIN(column)).where(column > first.c.x)
    step = pw.Select(from_list=[first], columns=[following]).where(first.c.x.is_null(False))
    values = first.union_all(step)
    query = values.select_from(values.c.x).where(values.c.x.is_null(False)).limit(MAX_NAMES)
    return [row[0] for row in query.tuples()]


def stage_names(_viewer: Operator) -> list[str]:
    return distinct_values(Client.deal_stage)


def variable_names(_viewer: Operator) -> list[str]:
    return distinct_values(Variable.name)


def operator_words(_viewer: Operator) -> list[str]:
    """``me``, ``none`` and every operator's name (what ``responsible:`` accepts)."""
    rows: Any = Operator.select(Operator.name).order_by(Operator.name).tuples()
    names = [row[0] for row in rows]
    return ["me", "none", *names[:MAX_NAMES]]


def saved_names(viewer: Operator) -> list[str]:
    """The viewer's own saved filters."""
    if viewer.id is None:
        return []
    query: Any = (
        SavedFilter.select(SavedFilter.name)
        .where(SavedFilter.operator == viewer.id)
        .order_by(SavedFilter.name)
    )
    return [row[0] for row in query.tuples()]
