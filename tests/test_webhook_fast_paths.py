"""The webhook's fast paths give the answers of the slow ones: the JSON limits check skips
its scan only where the scan could not find anything."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bots.webhook import (
    _BRACKET,
    _JSON_STRING,
    _LONG_NUMBER,
    MAX_JSON_DEPTH,
    MAX_NUMBER_DIGITS,
    json_limits_exceeded,
)


def full_scan(body: bytes) -> str | None:
    """The check as it was before the fast path: always the whole scan."""
    outside = _JSON_STRING.sub(b'""', body)
    if _LONG_NUMBER.search(outside):
        return f"a number longer than {MAX_NUMBER_DIGITS} digits"
    depth = 0
    for match in _BRACKET.finditer(outside):
        if match.group() in b"[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return f"nested deeper than {MAX_JSON_DEPTH} levels"
        else:
            depth -= 1
    return None


PIECES = st.sampled_from(
    [b"[", b"]", b"{", b"}", b'"', b"\\", b"1", b"1" * 60, b"[" * 60, b"a", b",", b":", b" "]
)


@given(st.lists(PIECES, max_size=300).map(b"".join))
def test_the_limits_check_answers_as_the_full_scan(body: bytes) -> None:
    assert json_limits_exceeded(body) == full_scan(body)


def test_the_edges_of_the_fast_path() -> None:
    at_limit = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert json_limits_exceeded(at_limit) is None
    assert json_limits_exceeded(b"[" + at_limit + b"]") == "nested deeper than 100 levels"
    # Many brackets, all inside a string: the full scan runs and finds nothing.
    assert json_limits_exceeded(b'{"a": "' + b"{" * 500 + b'"}') is None
    digits = b"9" * (MAX_NUMBER_DIGITS + 1)
    assert json_limits_exceeded(b'{"n": ' + digits + b"}") == "a number longer than 100 digits"
    assert json_limits_exceeded(b'{"s": "' + digits + b'"}') is None  # inside a string
