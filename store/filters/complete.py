"""Completion of a filter text at the cursor (SPEC F11): filter keys, and the names a key
takes (lists, labels, blocks, bots, deal stages, operators, tabs, saved filters).

``complete(text, cursor, viewer)`` finds the term under the cursor and answers what may
replace it: ``Completion.start``/``end`` delimit that term in ``text`` and each suggestion is
the whole term as it would read (``label:"Ждёт оплаты"``), quoted where the syntax needs it
(``store.filters.syntax.quote``). A term ``key:`` offers the key's values from the registry
(``FilterSpec.values``); a bare word offers the keys and flags starting with it. Matching
ignores case in every alphabet; names starting with the typed text come before names merely
containing it. Values already given in the term are not offered again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from store.filters.registry import REGISTRY, SPECS
from store.filters.syntax import quote, split_unquoted
from store.models import Operator

MAX_SUGGESTIONS: Final = 20
_KEYED = re.compile(r"(-?)([A-Za-z_]+):")


@dataclass(frozen=True, slots=True)
class Suggestion:
    """``text``: the whole term to put in place; ``label``: what to show; ``hint``: one line
    about it; ``final``: True when the term is complete (a space may follow)."""

    text: str
    label: str
    hint: str = ""
    final: bool = True


@dataclass(frozen=True, slots=True)
class Completion:
    """The term under the cursor is ``text[start:end]``; ``suggestions`` may replace it."""

    start: int
    end: int
    suggestions: list[Suggestion] = field(default_factory=list)


def term_bounds(text: str, cursor: int) -> tuple[int, int]:
    """Start and end of the whitespace-separated term around ``cursor`` (quotes keep spaces
    inside a term; an unclosed quote runs to the end)."""
    cursor = max(0, min(cursor, len(text)))
    start = 0
    in_quote = escaped = False
    for i, char in enumerate(text[:cursor]):
        if escaped:
            escaped = False
        elif in_quote and char == "\\":
            escaped = True
        elif char == '"':
            in_quote = not in_quote
        elif char.isspace() and not in_quote:
            start = i + 1
    end = cursor
    while end < len(text):
        char = text[end]
        if escaped:
            escaped = False
        elif in_quote and char == "\\":
            escaped = True
        elif char == '"':
            in_quote = not in_quote
        elif char.isspace() and not in_quote:
            break
        end += 1
    return start, end


def _ranked(typed: str, names: list[str], skip: set[str]) -> list[str]:
    folded = typed.casefold()
    starts = [n for n in names if n.casefold().startswith(folded) and n not in skip]
    inside = [n for n in names if folded in n.casefold() and n not in starts and n not in skip]
    return (starts + inside)[:MAX_SUGGESTIONS]


def _bare_unquote(piece: str) -> str:
    # The piece being typed may still lack its closing quote: drop quotes and escapes.
    return piece.replace('\\"', '"').replace('"', "")


def complete(text: str, cursor: int, viewer: Operator) -> Completion:
    """What may replace the term of ``text`` under ``cursor`` (a character offset)."""
    start, end = term_bounds(text, cursor)
    typed = text[start : max(start, min(cursor, len(text)))]
    match = _KEYED.match(typed)
    if match is None:
        return Completion(start, end, _keys(typed))
    negated, key = match.group(1), match.group(2).lower()
    spec = REGISTRY.get(key)
    if spec is None or spec.values is None:
        return Completion(start, end)
    pieces = split_unquoted(typed[match.end() :], ",")
    current = _bare_unquote(pieces[-1])
    if key == "var" and "=" in current:
        return Completion(start, end)  # values of a variable are not offered
    done = [_bare_unquote(p) for p in pieces[:-1]]
    head = f"{negated}{key}:" + "".join(p + "," for p in pieces[:-1])
    suggestions = [
        Suggestion(text=head + quote(name), label=name, hint=spec.syntax)
        for name in _ranked(current, spec.values(viewer), set(done))
    ]
    return Completion(start, end, suggestions)


def _keys(typed: str) -> list[Suggestion]:
    negated = typed.startswith("-")
    word = typed[1:] if negated else typed
    found = []
    for spec in SPECS:
        if negated and not spec.negatable:
            continue
        if spec.key.startswith(word.lower()):
            written = ("-" if negated else "") + spec.key + ("" if spec.flag else ":")
            found.append(Suggestion(written, written, spec.help, final=spec.flag))
    return found[:MAX_SUGGESTIONS]
