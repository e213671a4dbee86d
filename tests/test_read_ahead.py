"""store.read_ahead: a generator run one step ahead in a thread gives the same items in the
same order, raises its error where it happened, and stops when its consumer does."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.read_ahead import read_ahead


@given(st.lists(st.integers()), st.integers(min_value=1, max_value=4))
def test_same_items_in_the_same_order(items: list[int], ahead: int) -> None:
    assert list(read_ahead(iter(items), ahead)) == items


def test_an_error_is_raised_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    got = []
    with pytest.raises(UnicodeDecodeError):
        for item in read_ahead(items()):
            got.append(item)
    assert got == [1, 2]


def test_the_worker_stops_when_the_consumer_does() -> None:
    produced = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    before = threading.active_count()
    for item in read_ahead(endless(), ahead=2):
        if item == 5:
            break
    assert threading.active_count() == before  # joined: no thread left behind
    assert len(produced) <= 5 + 1 + 2 + 1  # at most a few items beyond what was taken
