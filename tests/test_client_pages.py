"""A page is the same whichever shape fetches it (the ids the count gathered, sorted, for a
small result; walking the list-order index for a large one), on SQLite and PostgreSQL; a
small result's page evaluates the filter once; and the counts of exclusions (correlated
NOT EXISTS) match the plain definition."""

from __future__ import annotations

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.clients import query
from store.clients.query import count_clients, page_clients
from store.filters import parse_filter
from store.models import Client, LabelMembership, ListMembership, Operator
from tests.factories import MOSCOW, client, local, operator
from tests.sqllog import captured_statements

FILTERS = (
    "",
    "sort:created",
    "list:A",
    "-list:A",
    "-list:A,B -label:x",
    "label:x,y",
    "-label:y search:ann",
    "id:1",
    "var:size=XS",
    "tab:mine",
    "tab:free sort:created",
)


@pytest.fixture
def people(db: peewee.Database) -> tuple[Operator, Operator]:
    admin = operator(1, "Admin", "admin")
    olga = operator(2, "Olga")
    tie = local("01.06.2024 12:00")
    for n in range(24):
        client(
            ("Anna " if n % 3 else "Boris ") + str(n),
            lists=(("A",) if n % 2 else ()) + (("B",) if n % 5 == 0 else ()),
            labels=(("x",) if n % 3 == 0 else ()) + (("y",) if n % 4 == 0 else ()),
            variables={"size": "XS" if n % 2 else "M"},
            pinned=n in (5, 17),
            # ties on the activity time: only the id orders them
            last_action_at=tie if n % 4 else local(f"{n + 1:02d}.01.2024 10:00"),
            created_at=local(f"{(n % 12) + 1:02d}.03.2023 09:00"),
            responsible=olga if n % 3 == 1 else None,
            unread=n % 7 < 3,
        )
    return admin, olga


def _walk(text: str, viewer: Operator, per_page: int) -> tuple[int, list[list[str]]]:
    flt = parse_filter(text, viewer, MOSCOW)
    first = page_clients(flt, viewer, per_page=per_page)
    pages = [
        [c.name for c in page_clients(flt, viewer, page=n, per_page=per_page).clients]
        for n in range(1, first.pages + 2)  # one past the end: empty
    ]
    return first.total, pages


@pytest.mark.parametrize("text", FILTERS)
def test_both_page_shapes_give_the_same_pages(
    people: tuple[Operator, Operator], text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for viewer in people:
        small = _walk(text, viewer, per_page=5)
        monkeypatch.setattr(query, "SMALL_RESULT", -1)  # every result counts as large
        large = _walk(text, viewer, per_page=5)
        monkeypatch.setattr(query, "SMALL_RESULT", 10**9)
        assert small == large
        total, pages = small
        assert pages[-1] == []
        flat = [name for page in pages for name in page]
        assert len(flat) == len(set(flat)) == total


TERMS = (
    "list:A",
    "list:A,B",
    "-list:B",
    "label:x",
    "label:x,y",
    "-label:y",
    "var:size=XS",
    "var:=M",
    "var:size",
    "unanswered",
    "tab:free",
    "search:ann",
    "sort:created",
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(terms=st.lists(st.sampled_from(TERMS), min_size=1, max_size=4, unique=True))
def test_any_combination_pages_alike_by_ids_and_by_walking(
    people: tuple[Operator, Operator], terms: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memberships are an ``IN`` over the members for the ids and a per-client ``EXISTS``
    when walking the list order, and a small result's ids are read by id or tested during a
    walk (``WALK_IDS``): every shape selects the same clients in the same order."""
    text = " ".join(terms)
    for viewer in people:
        monkeypatch.setattr(query, "SMALL_RESULT", 10**9)
        small = _walk(text, viewer, per_page=4)
        monkeypatch.setattr(query, "WALK_IDS", -1)  # the ids tested while walking
        walked_ids = _walk(text, viewer, per_page=4)
        monkeypatch.setattr(query, "WALK_IDS", 10**9)
        monkeypatch.setattr(query, "SMALL_RESULT", -1)
        large = _walk(text, viewer, per_page=4)
        assert small == walked_ids == large, text
        total, pages = small
        assert len([name for page in pages for name in page]) == total


def test_pinned_first_then_activity_then_newest_id(people: tuple[Operator, Operator]) -> None:
    admin, _ = people
    flt = parse_filter("", admin, MOSCOW)
    names = [c.name for c in page_clients(flt, admin, per_page=100).clients]
    expected = [
        c.name
        for c in sorted(
            Client.select(), key=lambda c: (c.pinned, c.last_action_at, c.id), reverse=True
        )
    ]
    assert names == expected


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lists=st.sets(st.sampled_from("AB"), min_size=1),
    labels=st.sets(st.sampled_from("xy"), min_size=1),
)
def test_exclusions_count_the_clients_in_none_of_them(
    people: tuple[Operator, Operator], lists: set[str], labels: set[str]
) -> None:
    admin, _ = people
    text = f"-list:{','.join(sorted(lists))} -label:{','.join(sorted(labels))}"
    expected = [
        c
        for c in Client.select()
        if not ({m.mailing_list.name for m in ListMembership.filter(client=c)} & lists)
        and not ({m.label.name for m in LabelMembership.filter(client=c)} & labels)
    ]
    assert count_clients(parse_filter(text, admin, MOSCOW), admin) == len(expected)


def test_a_small_result_is_searched_once_per_page(people: tuple[Operator, Operator]) -> None:
    admin, _ = people
    flt = parse_filter("search:anna list:A", admin, MOSCOW)
    with captured_statements() as seen:
        page = page_clients(flt, admin, per_page=5)
    searching = [s for s in seen if "client_fts" in s or "ILIKE" in s]
    assert len(searching) == 1, seen  # the count, which also gathers the ids
    assert page.count.exact and page.total == 8  # odd n, not a multiple of 3
    assert len(page.clients) == 5 and page.next_cursor is not None
    rest = page_clients(flt, admin, per_page=5, after=page.next_cursor)
    names = [c.name for c in page.clients + rest.clients]
    assert len(set(names)) == 8 and all(n.startswith("Anna") for n in names)


@pytest.mark.parametrize(
    ("text", "gathers"), [("", False), ("-list:A,B -label:x", False), ("list:A", True)]
)
def test_large_by_nature_results_are_counted_without_their_ids(
    people: tuple[Operator, Operator], text: str, gathers: bool
) -> None:
    """Everyone in scope and exclusions alone are counted without aggregating the matching
    ids (past the cap they were aggregated for nothing); their page reads the filter again."""
    admin, olga = people
    for viewer in (admin, olga):
        flt = parse_filter(text, viewer, MOSCOW)
        with captured_statements() as seen:
            page = page_clients(flt, viewer, per_page=5)
        aggregated = any("json_group_array" in s or "array_agg" in s for s in seen)
        assert aggregated == gathers, seen
        assert page.total == count_clients(flt, viewer) and len(page.clients) == 5
