"""PostgreSQL counts a filter of searches alone from ``client_search`` (issue 14 item 3).

- For generated clients (written by multi-row inserts, renames and deletes, so the side
  table's triggers ran for each kind of write) and filters of one to three ``search:`` /
  ``id:`` terms, with or without a term on the client row, for an admin, an operator and an
  operator looking at others' clients: the exact count, capped counts at several caps, and
  the first two keyset pages (clients in list order, next cursors) equal those of the filter
  joined to ``client`` (``select_clients``, the form every other query uses).
- The count statement reads ``client_search`` alone exactly when every term is a search
  and the viewer sees every client; an operator's scope or another term joins ``client``.
"""

from __future__ import annotations

import datetime as dt

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.clients.query import (
    ClientCount,
    count_capped,
    count_clients,
    order_clients,
    page_clients,
    select_clients,
)
from store.filters import parse_filter
from store.filters.syntax import quote
from store.models import Client, MailingList, Operator
from tests.factories import MOSCOW, bot, operator
from tests.sqllog import captured_statements

# Few letters, both cases and alphabets, so that short needles match several clients.
LETTERS = "abАб1"
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
START = dt.datetime(2026, 1, 1)

clients = st.lists(
    st.tuples(
        st.text(alphabet=LETTERS, min_size=1, max_size=6),  # name
        st.booleans(),  # pinned
        st.integers(min_value=0, max_value=5),  # last action, in minutes after START
        st.sampled_from([None, 1, 2, 3]),  # responsible operator
    ),
    min_size=1,
    max_size=25,
)
needles = st.text(alphabet=LETTERS, min_size=1, max_size=3).filter(lambda s: s.strip() != "")
terms = st.one_of(
    needles.map(lambda n: f"search:{quote(n)}"),
    st.lists(st.text(alphabet="0123456789", min_size=1, max_size=2), min_size=1, max_size=2).map(
        lambda ds: "id:" + ",".join(ds)
    ),
)


@pytest.fixture
def operators(pg_db: peewee.Database) -> list[Operator]:
    """The admin (id 1) and two operators (ids 2, 3)."""
    return [operator(1, "Admin", "admin"), operator(2, "Olga"), operator(3, "Oleg")]


def insert(specs: list[tuple[str, bool, int, int | None]]) -> list[int]:
    """One multi-row INSERT; the new ids in insertion order."""
    on = bot()
    rows = [
        {
            "bot": on.id,
            "name": name,
            "messenger_id": f"m{n}",
            "pinned": pinned,
            "last_action_at": START + dt.timedelta(minutes=minute),
            "responsible": responsible,
        }
        for n, (name, pinned, minute, responsible) in enumerate(specs)
    ]
    Client.insert_many(rows).execute()
    return [c.id for c in Client.select(Client.id).order_by(Client.id)]


def joined_ids(text: str, viewer: Operator, view_others: bool) -> list[int]:
    """The matching ids in list order, by the filter joined to ``client``."""
    flt = parse_filter(text, viewer, MOSCOW)
    query = order_clients(select_clients(flt, viewer, view_others=view_others), flt)
    return [c.id for c in query]


@SETTINGS
@given(
    specs=clients,
    renamed=st.sets(st.integers(min_value=0, max_value=24), max_size=5),
    new_name=st.text(alphabet=LETTERS, min_size=1, max_size=4),
    deleted=st.sets(st.integers(min_value=0, max_value=24), max_size=5),
    chosen=st.lists(terms, min_size=1, max_size=3),
    extra=st.sampled_from(["", "unanswered", "-list:VIP"]),
    who=st.sampled_from([(1, False), (2, False), (2, True)]),
    per_page=st.integers(min_value=1, max_value=6),
    cap=st.integers(min_value=0, max_value=12),
)
def test_count_and_pages_equal_the_joined_forms(
    pg_db: peewee.Database,
    operators: list[Operator],
    specs: list[tuple[str, bool, int, int | None]],
    renamed: set[int],
    new_name: str,
    deleted: set[int],
    chosen: list[str],
    extra: str,
    who: tuple[int, bool],
    per_page: int,
    cap: int,
) -> None:
    with pg_db.atomic() as transaction:
        if extra == "-list:VIP":
            MailingList.create(name="VIP")
        ids = insert(specs)
        picked = [ids[i] for i in renamed if i < len(ids)]
        Client.update(name=new_name).where(Client.id.in_(picked)).execute()
        Client.delete().where(Client.id.in_([ids[i] for i in deleted if i < len(ids)])).execute()
        viewer = operators[who[0] - 1]
        view_others = who[1]
        text = " ".join([*chosen, extra]).strip()
        expected = joined_ids(text, viewer, view_others)
        flt = parse_filter(text, viewer, MOSCOW)

        assert count_clients(flt, viewer, view_others=view_others) == len(expected)
        capped = count_capped(flt, viewer, cap, view_others=view_others)
        assert capped == ClientCount(min(len(expected), cap), exact=len(expected) <= cap)
        first = page_clients(flt, viewer, per_page=per_page, view_others=view_others)
        assert first.count == ClientCount(len(expected))
        assert [c.id for c in first.clients] == expected[:per_page]
        assert (first.next_cursor is None) == (len(expected) <= per_page)
        if first.next_cursor is not None:
            second = page_clients(
                flt, viewer, per_page=per_page, after=first.next_cursor, view_others=view_others
            )
            assert [c.id for c in second.clients] == expected[per_page : 2 * per_page]
        transaction.rollback()


def count_statement(text: str, viewer: Operator, *, view_others: bool = False) -> str:
    flt = parse_filter(text, viewer, MOSCOW)
    with captured_statements() as seen:
        count_capped(flt, viewer, view_others=view_others)
    assert len(seen) == 1
    return seen[0]


def test_only_searches_seen_by_everyone_are_counted_without_client(
    pg_db: peewee.Database, operators: list[Operator]
) -> None:
    admin, olga = operators[0], operators[1]
    side_alone = '"client_search" AS'
    joined = '"client" AS'
    for text in ("search:ab", "id:12", "search:ab id:1,2 Аб"):
        for viewer, view_others in ((admin, False), (olga, True)):
            statement = count_statement(text, viewer, view_others=view_others)
            assert side_alone in statement and joined not in statement, (text, statement)
    for text, viewer in (("search:ab", olga), ("search:ab unanswered", admin), ("", admin)):
        assert joined in count_statement(text, viewer), text
