"""Turning the words of a filter into store values: names -> ids, dates -> UTC instants.

An unknown name is refused with the nearest existing one (``difflib``) as a suggestion.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import operator
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import peewee as pw

from store.db import database_proxy
from store.filters.errors import FilterError
from store.models import Client, Operator

T = TypeVar("T")

_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")


def nearest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word`` (case-insensitive), or None when none is close."""
    pool = list(candidates)
    folded = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(word.lower(), list(folded), n=1, cutoff=0.5)
    return folded[close[0]] if close else None


def match_names(
    names: Sequence[str],
    exact: dict[str, T],
    every: Callable[[], dict[str, T]],
    *,
    what: str,
    token: str,
) -> list[T]:
    """The one rule every named filter value follows (list, label, block, stage): a name
    matches exactly, else case-insensitively when just one name folds to it; otherwise
    ``FilterError`` with the nearest known name ("did you mean"). ``exact``: the rows found
    by an exact lookup of ``names``; ``every``: all names, loaded only for a missing one."""
    found = dict(exact)
    missing = [n for n in names if n not in found]
    if missing:
        known = every()
        folded: dict[str, list[T]] = {}
        for name, value in known.items():
            folded.setdefault(name.lower(), []).append(value)
        for name in missing:
            values = folded.get(name.lower(), [])
            if len(values) != 1:
                raise FilterError(
                    f"{token}: no {what} named {name!r}",
                    token=token,
                    suggestion=nearest(name, known),
                )
            found[name] = values[0]
    return [found[n] for n in names]


def names_to_ids(
    model: type[pw.Model],
    names: Sequence[str],
    *,
    what: str,
    token: str,
    known: dict[str, int] | None = None,
) -> list[int]:
    """Ids of the rows of ``model`` named ``names`` (``match_names``). ``known``: the ids of
    a lookup of (at least) ``names`` already made (``ids_by_name``); None looks them up."""
    name_field: Any = model._meta.fields["name"]
    id_field: Any = model._meta.primary_key
    pairs: Any = (
        {name: known[name] for name in names if name in known}
        if known is not None
        else model.select(name_field, id_field).where(name_field.in_(names)).tuples()
    )

    def every() -> dict[str, int]:
        all_pairs: Any = model.select(name_field, id_field).tuples()
        return dict(all_pairs)

    return match_names(names, dict(pairs), every, what=what, token=token)


def ids_by_name(
    wanted: Mapping[type[pw.Model], Iterable[str]],
) -> dict[type[pw.Model], dict[str, int]]:
    """The ids of the rows of each model named as given (exact names), in ONE statement (a
    ``UNION ALL`` of one lookup per model): name -> id per model, every model present."""
    models = list(wanted)
    parts: list[Any] = []
    for i, model in enumerate(models):
        name_field: Any = model._meta.fields["name"]
        id_field: Any = model._meta.primary_key
        names = sorted(set(wanted[model]))
        parts.append(
            model.select(pw.Value(i).alias("kind"), name_field, id_field).where(
                name_field.in_(names)
            )
        )
    found: dict[type[pw.Model], dict[str, int]] = {model: {} for model in models}
    union = functools.reduce(operator.add, parts)  # peewee: ``+`` is UNION ALL
    # The raw rows: peewee would convert "kind" as the field of that name (``Bot.kind``).
    for kind, name, row_id in database_proxy.execute(union).fetchall():
        found[models[kind]][name] = row_id
    return found


def stage_names(names: Sequence[str], *, token: str) -> list[str]:
    """The deal stages clients hold, named ``names`` (``match_names``: ``новый`` finds
    ``Новый``); a stage no client is at is unknown. Index lookups; all stages are read only
    for a name that is not found exactly."""
    stage: Any = Client.deal_stage
    # One row per name (LIMIT 1), not DISTINCT over the names' index range: at a million
    # clients a stage holds ~140,000 of them, and reading them all took 2-6 ms (PostgreSQL).
    exact = {n: n for n in dict.fromkeys(names) if Client.select().where(stage == n).exists()}

    def every() -> dict[str, str]:
        known: Any = Client.select(stage).where(stage.is_null(False)).distinct().tuples()
        return {value: value for (value,) in known}

    return match_names(names, exact, every, what="deal stage", token=token)


def operator_ids(words: Sequence[str], viewer: Operator, *, token: str) -> list[int | None]:
    """``me``, ``none``, an operator's name, email or Telegram id -> ids (None = nobody)."""
    result: list[int | None] = []
    operators: list[Operator] | None = None
    for word in words:
        lowered = word.lower()
        if lowered == "me":
            result.append(viewer.id)
            continue
        if lowered == "none":
            result.append(None)
            continue
        if operators is None:
            operators = list(Operator.select())
        hits = [
            op
            for op in operators
            if lowered in (op.name.lower(), (op.email or "").lower(), str(op.telegram_id))
        ]
        if len(hits) != 1:
            kind = "several operators match" if hits else "no operator"
            labels = [op.name for op in operators] + ["me", "none"]
            raise FilterError(
                f"{token}: {kind} {word!r}", token=token, suggestion=nearest(word, labels)
            )
        result.append(hits[0].id)
    return result


def parse_day(text: str, *, token: str) -> dt.date:
    """``YYYY-MM-DD`` or ``DD.MM.YYYY`` as a date; anything else is refused."""
    if match := _ISO.fullmatch(text):
        year, month, day = (int(g) for g in match.groups())
    elif match := _DOTTED.fullmatch(text):
        day, month, year = (int(g) for g in match.groups())
    else:
        raise FilterError(
            f"{token}: {text!r} is not a date (use YYYY-MM-DD or DD.MM.YYYY)", token=token
        )
    try:
        return dt.date(year, month, day)
    except ValueError as exc:
        raise FilterError(f"{token}: {text!r} is not a date ({exc})", token=token) from None


def start_of_day(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """Midnight of ``day`` in ``zone``, as the naive UTC instant the store compares with
    (clamped to ``datetime``'s range: ``after:0001-01-01`` in a zone east of UTC)."""
    local = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    try:
        return local.astimezone(dt.UTC).replace(tzinfo=None)
    except OverflowError:
        return dt.datetime.min if day.year < 5000 else dt.datetime.max
