"""Keyset pages and capped counts of the client list, on SQLite and PostgreSQL: a page after a
cursor never repeats or skips a client while messages arrive, walking pages of any sizes yields
the list in order exactly once, counts are exact to the cap and "N+" beyond, and a garbled
cursor is a one-line ``CursorError``."""

from __future__ import annotations

import datetime as dt
import string

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.clients import query
from store.clients.cursor import Cursor, CursorError, decode_cursor
from store.clients.query import (
    ClientCount,
    count_capped,
    count_clients,
    page_clients,
)
from store.filters import parse_filter
from store.models import Client, ListMembership, MailingList, Operator
from tests.factories import MOSCOW, client, inbound, operator

T0 = dt.datetime(2024, 6, 1, 12, 0)


@pytest.fixture
def admin(db: peewee.Database) -> Operator:
    return operator(1, "Admin", "admin")


def _names(page: query.Page) -> list[str]:
    return [c.name for c in page.clients]


def _ids(page: query.Page) -> list[str]:
    return [c.messenger_id for c in page.clients]


def test_new_messages_between_pages_neither_repeat_nor_skip(admin: Operator) -> None:
    # 30 clients, c00 the latest; messenger ids are their names so ingest finds them.
    for n in range(30):
        client(f"c{n:02d}", f"c{n:02d}", last_action_at=T0 - dt.timedelta(minutes=n))
    flt = parse_filter("", admin, MOSCOW)
    original = [f"c{n:02d}" for n in range(30)]
    first = page_clients(flt, admin, per_page=10)
    assert _ids(first) == original[:10] and first.next_cursor is not None
    # New messages move two clients of page 1 and one of page 3 to the top of the list.
    for n, messenger_id in enumerate(("c03", "c07", "c25")):
        inbound(messenger_id, "hello again", n)
    assert _ids(page_clients(flt, admin, per_page=3)) == ["c25", "c07", "c03"]
    second = page_clients(flt, admin, page=2, per_page=10, after=first.next_cursor)
    assert _ids(second) == original[10:20]
    third = page_clients(flt, admin, page=3, per_page=10, after=second.next_cursor)
    # c25 moved above the cursor: it is on page 1 now, not again here.
    assert _ids(third) == [n for n in original[20:] if n != "c25"]
    assert third.next_cursor is None
    # --page N (an offset) still works for scripts, on the list as it is now: c25 moved up
    # from page 3, so offset page 2 starts with page 1's last client again.
    assert _ids(page_clients(flt, admin, page=2, per_page=10))[:2] == ["c09", "c10"]


@pytest.mark.parametrize("text", ["", "sort:created", "list:A", "-label:x", "tab:free"])
def test_keyset_pages_are_the_same_in_both_page_shapes(
    admin: Operator, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(17):
        client(
            f"k{n}",
            lists=("A",) if n % 2 else (),
            labels=("x",) if n % 3 == 0 else (),
            pinned=n in (4, 11),
            last_action_at=T0 - dt.timedelta(minutes=n % 4),  # ties: the id orders them
            created_at=T0 - dt.timedelta(days=n % 5),
        )
    flt = parse_filter(text, admin, MOSCOW)
    walks = []
    for small in (10**9, -1):  # collect-then-sort, then walk the list-order index
        monkeypatch.setattr(query, "SMALL_RESULT", small)
        names, after = [], None
        while True:
            page = page_clients(flt, admin, per_page=4, after=after)
            names += _names(page)
            if page.next_cursor is None:
                break
            after = page.next_cursor
        walks.append(names)
    offset_pages = _names(page_clients(flt, admin, per_page=100))
    assert walks[0] == walks[1] == offset_pages
    assert len(offset_pages) == count_clients(flt, admin)


CLIENTS = st.lists(
    st.tuples(
        st.booleans(),  # pinned
        st.integers(0, 3),  # minutes before T0 of the last action: ties are frequent
        st.integers(0, 3),  # days before T0 of the registration
        st.booleans(),  # in list A
    ),
    max_size=14,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    clients=CLIENTS,
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=6),
    text=st.sampled_from(["", "sort:created", "list:A", "-list:A sort:created"]),
)
def test_walking_keyset_pages_yields_every_client_once_in_order(
    admin: Operator,
    clients: list[tuple[bool, int, int, bool]],
    sizes: list[int],
    text: str,
) -> None:
    ListMembership.delete().execute()
    Client.delete().execute()
    MailingList.get_or_create(name="A")
    for n, (pinned, minutes, days, listed) in enumerate(clients):
        client(
            f"h{n}",
            pinned=pinned,
            lists=("A",) if listed else (),
            last_action_at=T0 - dt.timedelta(minutes=minutes),
            created_at=T0 - dt.timedelta(days=days),
        )
    # The plain-Python reference: the filter by hand, then the list order.
    flt = parse_filter(text, admin, MOSCOW)
    rows = list(Client.select())
    in_a = {m.client_id for m in ListMembership.select()}
    want = {"": None, "list:A": True, "-list:A": False}[text.removesuffix("sort:created").strip()]
    wanted = [c for c in rows if want is None or (c.id in in_a) == want]
    created = "sort:created" in text
    expected = [
        c.name
        for c in sorted(
            wanted,
            key=lambda c: (c.pinned, c.created_at if created else c.last_action_at, c.id),
            reverse=True,
        )
    ]
    walked: list[str] = []
    after = None
    for step in range(len(expected) + 2):
        page = page_clients(flt, admin, per_page=sizes[step % len(sizes)], after=after)
        walked += _names(page)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert walked == expected


def test_counts_are_exact_to_the_cap_and_a_lower_bound_beyond(admin: Operator) -> None:
    for n in range(12):
        client(f"n{n}", lists=("A",) if n < 5 else ())
    every, in_a = parse_filter("", admin, MOSCOW), parse_filter("list:A", admin, MOSCOW)
    assert count_capped(every, admin) == ClientCount(12, exact=True)
    assert count_capped(every, admin, cap=12) == ClientCount(12, exact=True)
    assert count_capped(every, admin, cap=11) == ClientCount(11, exact=False)
    assert count_capped(in_a, admin, cap=4) == ClientCount(4, exact=False)
    assert count_capped(in_a, admin, cap=5) == ClientCount(5, exact=True)
    assert str(ClientCount(10_000, exact=False)) == "10,000+"
    assert str(ClientCount(1234)) == "1,234"


def test_a_page_beyond_the_cap_still_pages(
    admin: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(query, "COUNT_CAP", 5)
    for n in range(8):
        client(f"p{n}", last_action_at=T0 - dt.timedelta(minutes=n))
    flt = parse_filter("", admin, MOSCOW)
    first = page_clients(flt, admin, per_page=3)
    assert first.count == ClientCount(5, exact=False) and str(first.count) == "5+"
    second = page_clients(flt, admin, page=2, per_page=3, after=first.next_cursor)
    third = page_clients(flt, admin, page=3, per_page=3, after=second.next_cursor)
    assert _names(first) + _names(second) + _names(third) == [f"p{n}" for n in range(8)]
    # By offset past the cap's pages: the rows are read, not skipped on the capped count.
    assert _names(page_clients(flt, admin, page=3, per_page=3)) == ["p6", "p7"]
    assert count_clients(flt, admin) == 8  # the exact number, where an action needs it


MOMENTS = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31))


@given(
    sort=st.sampled_from(["activity", "created"]),
    pinned=st.booleans(),
    moment=MOMENTS,
    client_id=st.integers(1, 2**63 - 1),
)
def test_a_cursor_round_trips_as_url_safe_text(
    sort: str, pinned: bool, moment: dt.datetime, client_id: int
) -> None:
    cursor = Cursor(sort=sort, pinned=pinned, moment=moment, client_id=client_id)
    text = cursor.encode()
    assert set(text) <= set(string.ascii_letters + string.digits + "-_")
    assert decode_cursor(text, sort) == cursor
    with pytest.raises(CursorError, match="sorted by"):
        decode_cursor(text, "created" if sort == "activity" else "activity")


@given(text=st.text(max_size=60), sort=st.sampled_from(["activity", "created"]))
def test_any_other_text_is_a_one_line_cursor_error(text: str, sort: str) -> None:
    try:
        decode_cursor(text, sort)
    except CursorError as exc:
        assert "\n" not in str(exc)


@given(data=st.data())
def test_a_changed_character_is_refused(data: st.DataObject) -> None:
    text = Cursor("activity", True, T0, 42).encode()
    at = data.draw(st.integers(0, len(text) - 1))
    other = data.draw(st.sampled_from(string.ascii_letters + string.digits + "-_"))
    garbled = text[:at] + other + text[at + 1 :]
    if garbled != text:  # the last character's spare bits too: only the canonical text
        with pytest.raises(CursorError):
            decode_cursor(garbled, "activity")
