"""Names that bulk actions take as arguments: lists, labels and the operator to assign.

``list-add``/``label-add`` create a list or label that does not exist yet; ``-remove`` refuses
a name that does not exist, suggesting the nearest one. A name matches exactly, else
case-insensitively when that is unambiguous (as in filters), so ``label-add vip`` reuses
``VIP`` instead of creating a near-duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import peewee as pw

from store.errors import StoreError
from store.filters import FilterError
from store.filters.resolve import nearest, operator_ids
from store.filters.syntax import split_unquoted, unquote
from store.models import Operator

MAX_NAME = 200  # MailingList.name / Label.name width


class ActionError(StoreError):
    """A bulk action that cannot run (unknown action, bad argument, out of scope, not
    confirmed). ``str()`` is one line; ``suggestion`` the nearest valid spelling, if any."""

    def __init__(self, message: str, *, suggestion: str | None = None) -> None:
        if suggestion:
            message = f"{message}; did you mean {suggestion!r}?"
        super().__init__(message)
        self.suggestion = suggestion


def split_names(argument: str, what: str) -> list[str]:
    """``VIP,"Gold, old"`` -> ``["VIP", "Gold, old"]``; refuses an empty or too long name."""
    try:
        names = [unquote(p, argument).strip() for p in split_unquoted(argument, ",")]
    except FilterError as exc:
        raise ActionError(f"{what} names: {exc}") from None
    if not names or any(not n for n in names):
        raise ActionError(f"{what} names: empty name in {argument!r}")
    for name in names:
        if len(name) > MAX_NAME:
            raise ActionError(f"{what} name longer than {MAX_NAME} characters: {name[:40]!r}...")
    return list(dict.fromkeys(names))


def _lookup(model: type[pw.Model], names: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    """Existing ids by the names as given, and the names that match nothing."""
    name_field: Any = model._meta.fields["name"]
    id_field: Any = model._meta.primary_key
    pairs: Any = model.select(name_field, id_field).where(name_field.in_(list(names))).tuples()
    exact: dict[str, int] = dict(pairs)
    missing = [n for n in names if n not in exact]
    if missing:
        folded: dict[str, list[int]] = {}
        every: Any = model.select(name_field, id_field).tuples()
        for name, row_id in every:
            folded.setdefault(name.lower(), []).append(row_id)
        for name in missing:
            ids = folded.get(name.lower(), [])
            if len(ids) == 1:
                exact[name] = ids[0]
    return exact, [n for n in names if n not in exact]


def existing_ids(model: type[pw.Model], names: Sequence[str], what: str) -> list[int]:
    """Ids of the named rows; an unknown name is refused with the nearest existing one."""
    found, missing = _lookup(model, names)
    if missing:
        rows: Any = model.select(model._meta.fields["name"]).tuples()
        every = [r[0] for r in rows]
        raise ActionError(f"no {what} named {missing[0]!r}", suggestion=nearest(missing[0], every))
    return [found[n] for n in names]


def ensure_ids(model: type[pw.Model], names: Sequence[str]) -> list[int]:
    """Ids of the named rows, creating those that do not exist yet (safe under concurrency)."""
    _found, missing = _lookup(model, names)
    if missing:
        model.insert_many([{"name": n} for n in missing]).on_conflict_ignore().execute()
    found, still = _lookup(model, names)
    assert not still, still
    return [found[n] for n in names]


def assignee(word: str, viewer: Operator) -> int | None:
    """The operator ``word`` names (``me``, ``none``, name, email, Telegram id) -> id or None.

    An operator may take clients for themselves or free them, not give them to someone else;
    an admin may bind them to anyone active.
    """
    word = word.strip()
    if not word:
        raise ActionError("assign: give an operator, me or none")
    if word.lower() == "me" and viewer.id is None:
        raise ActionError("assign me: acting as the shell, not as an operator (use --as)")
    try:
        (target,) = operator_ids([word], viewer, token=f"assign {word}")
    except FilterError as exc:
        raise ActionError(str(exc).split("; did you mean")[0], suggestion=exc.suggestion) from None
    if target is not None:
        active = Operator.get_or_none(Operator.id == target)
        if active is None or not active.active:
            raise ActionError(f"assign {word}: that operator is not active")
    if not viewer.is_admin and target not in (None, viewer.id):
        raise ActionError(
            "assign: an operator can take clients for themselves or free them (me, none), "
            "not give them to another operator"
        )
    return target
