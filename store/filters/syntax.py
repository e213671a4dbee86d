"""The filter text syntax: whitespace-separated terms, GitHub/Gmail-search style.

A term is ``key:value``, ``-key:value`` (exclusion, where the key allows it), a bare flag key
(``unanswered``) or a bare word (shorthand for ``search:word``). Double quotes keep spaces,
commas and ``=`` inside one value (``search:"Анна Мария"``, ``var:"Размер"="XS"``); a
backslash inside quotes escapes the next character. This module knows no keys: it only cuts
text into ``Term`` values; ``store.filters.registry`` gives them meaning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from store.filters.errors import FilterError

_KEY = re.compile(r"(-?)([A-Za-z_]+):")


@dataclass(frozen=True, slots=True)
class Term:
    """One term of a filter text. ``key`` is None for a bare word; ``raw`` is the value with
    its quotes still in place (``values()`` and ``pair()`` interpret them)."""

    token: str
    key: str | None
    raw: str
    negated: bool = False

    def values(self, sep: str = ",") -> list[str]:
        """The value split on unquoted ``sep``, each piece unquoted (``A,"B, C"`` -> 2)."""
        return [unquote(piece, self.token) for piece in split_unquoted(self.raw, sep)]

    def text(self) -> str:
        """The whole value unquoted, commas and all."""
        return unquote(self.raw, self.token)


def tokenize(text: str) -> list[Term]:
    """Cut ``text`` into terms; raises ``FilterError`` on an unclosed quote."""
    terms: list[Term] = []
    for token in _split_tokens(text):
        match = _KEY.match(token)
        if match and not token.startswith('"'):
            terms.append(
                Term(
                    token=token,
                    key=match.group(2).lower(),
                    raw=token[match.end() :],
                    negated=bool(match.group(1)),
                )
            )
        else:
            terms.append(Term(token=token, key=None, raw=token))
    return terms


def _split_tokens(text: str) -> list[str]:
    return [text[start:end] for start, end in token_spans(text)]


def token_spans(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each whitespace-separated token of ``text``, lazily, left to right;
    double quotes keep whitespace inside a token and a backslash inside quotes escapes the
    next character. Raises ``FilterError`` on reaching an unclosed quote. The one tokenizer of
    filters and of admin command arguments (``commands.admin.args``)."""
    start: int | None = None
    in_quote = False
    escaped = False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif in_quote and char == "\\":
            escaped = True
        elif char == '"':
            in_quote = not in_quote
        elif char.isspace() and not in_quote:
            if start is not None:
                yield start, i
                start = None
            continue
        if start is None:
            start = i
    if in_quote:
        token = text[start:] if start is not None else text
        raise FilterError(f"unclosed quote in {token!r}", token=token)
    if start is not None:
        yield start, len(text)


def split_unquoted(raw: str, sep: str, maxsplit: int = -1) -> list[str]:
    """``raw`` split on ``sep`` outside double quotes (quotes are kept in the pieces)."""
    pieces: list[str] = []
    current: list[str] = []
    in_quote = False
    escaped = False
    for char in raw:
        if escaped:
            escaped = False
        elif in_quote and char == "\\":
            escaped = True
        elif char == '"':
            in_quote = not in_quote
        elif char == sep and not in_quote and maxsplit != 0:
            pieces.append("".join(current))
            current = []
            maxsplit -= 1
            continue
        current.append(char)
    pieces.append("".join(current))
    return pieces


def unquote(raw: str, token: str) -> str:
    """Drop the double quotes of ``raw`` and resolve backslash escapes inside them."""
    out: list[str] = []
    in_quote = False
    escaped = False
    for char in raw:
        if escaped:
            out.append(char)
            escaped = False
        elif in_quote and char == "\\":
            escaped = True
        elif char == '"':
            in_quote = not in_quote
        else:
            out.append(char)
    if in_quote:
        raise FilterError(f"unclosed quote in {token!r}", token=token)
    return "".join(out)


def quote(value: str) -> str:
    """``value`` as it must be written in a filter text to come back unchanged."""
    if value and not any(c.isspace() or c in '",=:\\' for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
