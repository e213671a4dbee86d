"""Running a filter: the viewer's scope, ordering, pages and counts (SPEC F10-F12).

An operator acts on the clients bound to them and the free ones; an admin on every client.
Lists may be wider than that: ``view_others=True`` (an operator with the ``view_others``
capability, ``store.permissions``) also shows other operators' clients, read-only.
Order: pinned first, then the latest activity (or, with ``sort:created``, the newest
registration) first; the id breaks ties so that pages never skip or repeat a client.

Counts on a page are capped (``count_capped``): exact up to ``COUNT_CAP`` clients, "10,000+"
beyond, from a query that stops after ``COUNT_CAP + 1`` rows, so a page never waits for a
count of a million; ``count_clients`` is the exact number, for the actions that need it (the
bulk plan, the export, ``clients count``). On PostgreSQL both count a filter of searches alone,
for a viewer of every client, from the side table ``client_search`` without ``client``.

Pages are keyset pages: a page after ``next_cursor`` (``store.clients.cursor``) holds the
clients strictly after the previous page's last one in the list order, so new messages
between pages neither repeat nor skip a client; ``page=N`` (an offset) stays for scripts.

A page is fetched after the count, in the shape the count calls for (at a million clients the
planners' guesses are often off by 100x, the count is not): a small result (``SMALL_RESULT``
clients or fewer) is collected first and then sorted; a large one is read by walking the
list-order index and stopping at the page, since matches are then frequent. The count of a
page comes with the matching ids when it is exact (one statement), so a small result's page
reads those clients by id instead of evaluating the filter a second time.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass

import peewee as pw

from store.clients.cursor import Cursor, decode_cursor
from store.clients.rows import execute, read_clients
from store.db import database_proxy, is_postgres
from store.filters import ClientFilter, Condition, parse_filter
from store.filters.sql import (
    CLIENT_ID,
    CLIENT_SEARCH,
    SEARCH_ID,
    Form,
    among,
    has_labels,
    in_lists,
    responsible,
    side_match,
    tab,
    variable,
)
from store.models import Client, ClientUnread, Operator

COUNT_CAP = 10_000  # clients; counts on pages are exact up to this, "10,000+" beyond
SMALL_RESULT = COUNT_CAP  # clients; at most this many are collected and sorted for one page
# PostgreSQL: a small result's page reads up to this many ids by id; more, it may walk the
# list order testing each client against them (``_by_ids``).
WALK_IDS = 5_000
# Filters that a page does not evaluate twice: the count gathers the matching ids on
# PostgreSQL too (trigram searches, joins to memberships and variables; ``_count_with_ids``).
GATHER_IDS = frozenset({"search", "id", "list", "label", "var"})
# The terms a filter of unread clients may have and still be counted from ``client_unread``
# alone (``unread_rows``): being unread, the responsible operator, and memberships (tested on
# the row's client id: ``label:hot unanswered`` never reads a client row).
UNREAD_SIDE_KEYS = frozenset({"unanswered", "tab", "responsible", "sort", "list", "label", "var"})
# The indexes (migration 0001) whose order is the list order, per sort.
ORDER_INDEX = {"activity": "client_pinned_last_action_at", "created": "client_pinned_created_at"}


@dataclass(frozen=True, slots=True)
class ClientCount:
    """How many clients match: ``value`` exactly when ``exact``, else at least ``value`` (the
    cap). ``str()`` is what every front end shows: ``1,234`` or ``10,000+``."""

    value: int
    exact: bool = True

    def __str__(self) -> str:
        return f"{self.value:,}" + ("" if self.exact else "+")


@dataclass(frozen=True, slots=True)
class Page:
    """One page of clients (``number`` counts from 1), the (capped) count matching the filter,
    and ``next_cursor``: where the next page starts (None on the last page)."""

    clients: list[Client]
    count: ClientCount
    number: int
    per_page: int
    next_cursor: str | None = None

    @property
    def total(self) -> int:
        """The count's value: exact, or the cap when ``count.exact`` is False."""
        return self.count.value

    @property
    def pages(self) -> int:
        """The number of pages: exact with an exact count, else a lower bound."""
        return max(1, -(-self.total // self.per_page))


def scope(
    viewer: Operator, *, view_others: bool = False, column: pw.Field | None = None
) -> pw.ColumnBase | None:
    """The clients ``viewer`` may act on (or, with ``view_others``, look at); None for an
    admin (everyone). ``column``: the responsible column tested (default the client's;
    ``client_unread``'s copy for ``unread_rows``)."""
    if viewer.is_admin or view_others:
        return None
    column = Client.responsible if column is None else column
    return column.is_null() | (column == viewer.id)


def unread_rows(
    flt: ClientFilter, viewer: Operator, *fields: pw.Node, view_others: bool = False
) -> pw.Select | None:
    """``fields`` of the ``client_unread`` rows of the clients ``flt`` selects within
    ``viewer``'s scope, when the filter asks for the unread clients and tests nothing else
    but their responsible operator and memberships (``UNREAD_SIDE_KEYS``; only lists and
    labels negated): the Unanswered tab, with Mine / Others / Free, ``responsible:``, an
    operator's scope, ``label:hot unanswered``. None otherwise.

    Each such row is one such client (``client_unread``'s rows are exactly the unread clients,
    its ``responsible_id`` a copy of the client's: ``store.clients.unread``), so counting them
    reads the narrow table and its ``(responsible_id, client_id)`` index alone; joined back to
    ``client`` for the responsible, the capped counts of ``/clients unanswered`` took 100-500
    ms at a million clients on PostgreSQL; SQLite's count of ``label:hot unanswered`` read
    each unread client's row by id (81-87 ms; 24-26 ms from ``client_unread``, memberships in
    ``membership_form``). ``CLIENT_ID`` among ``fields`` is read as
    ``client_unread.client_id`` (named ``id``); other fields must name no column of ``client``.
    """
    if not any(_asks_unread(c) for c in flt.conditions):
        return None
    column = ClientUnread.responsible
    member = ClientUnread.client
    form = membership_form(flt)
    parts = [p for p in (scope(viewer, view_others=view_others, column=column),) if p is not None]
    for condition in flt.conditions:
        key, value, negated = condition.key, condition.value, condition.negated
        if key not in UNREAD_SIDE_KEYS or (negated and key not in ("list", "label")):
            return None
        part: pw.ColumnBase | None = None
        if key == "tab":
            part = tab(*value, column=column)
        elif key == "responsible":
            part = responsible(value, column)
        elif key == "list":
            part = in_lists(value, negated, form, column=member)
        elif key == "label":
            part = has_labels(value, negated, form, column=member)
        elif key == "var":
            part = variable(value[0], value[1], form, column=member)
        if part is not None:
            parts.append(part)
    named = [ClientUnread.client.alias("id") if f is CLIENT_ID else f for f in fields]
    query = ClientUnread.select(*named)
    return query.where(*parts) if parts else query


def compile_filter(text: str, viewer: Operator, zone: zoneinfo.ZoneInfo) -> ClientFilter:
    """``parse_filter`` under its task name: filter text for ``viewer`` -> ``ClientFilter``."""
    return parse_filter(text, viewer, zone)


def where_clause(
    flt: ClientFilter, viewer: Operator, *, view_others: bool = False, walk: bool = False
) -> pw.ColumnBase | None:
    """The filter's conditions AND the viewer's scope, as one expression (None = all);
    ``walk``: for a page that walks the list-order index (``membership_form``)."""
    conditions = flt.where(membership_form(flt, walk=walk))
    parts = [p for p in (scope(viewer, view_others=view_others), conditions) if p is not None]
    if not parts:
        return None
    result = parts[0]
    for part in parts[1:]:
        result = result & part
    return result


def membership_form(flt: ClientFilter, *, walk: bool = False) -> Form:
    """How ``flt``'s memberships are written (``store.filters.sql.Form``; the same clients).

    PostgreSQL plans ``IN`` and ``EXISTS`` alike: always ``drive``. SQLite: ``probe`` on a
    page that walks the list-order index; ``test`` when the filter asks for the unread
    clients, whose index is the better start (they are a support inbox's backlog, and
    SQLite cannot know it: its statistics see two values and guess half the table);
    ``drive`` otherwise.
    """
    if is_postgres():
        return "drive"
    if walk:
        return "probe"
    return "test" if any(_asks_unread(c) for c in flt.conditions) else "drive"


def _asks_unread(condition: Condition) -> bool:
    """``unanswered`` or ``tab:unanswered`` (whose value is ``(tab, viewer id)``)."""
    if condition.key == "tab":
        return bool(condition.value[0] == "unanswered")
    return condition.key == "unanswered"


def select_clients(
    flt: ClientFilter, viewer: Operator, *fields: pw.Node, view_others: bool = False
) -> pw.ModelSelect[Client]:
    """The clients matching ``flt`` within ``viewer``'s scope, unordered (a Peewee query).

    ``fields`` default to the whole ``Client`` row; pass ``Client.id`` for a subquery.
    ``view_others``: the scope to look at, not to act on (see the module's docstring).
    """
    query = Client.select(*fields) if fields else Client.select()
    where = where_clause(flt, viewer, view_others=view_others)
    return query.where(where) if where is not None else query


def _side_where(flt: ClientFilter, viewer: Operator, *, view_others: bool) -> pw.ColumnBase | None:
    """PostgreSQL: ``flt``'s conditions on ``client_search``'s columns alone, when a count may
    read that table without ``client``: every term is a search (``search:``, ``id:``;
    ``sql.side_match``) and ``viewer`` sees every client (no scope). None otherwise.

    Joined to ``client``, the capped count of ``search:петров`` at a million clients looked
    10,001 ids up in client_pkey (~40 % of its time). Without the join it selects the same
    clients because ``client_search`` holds exactly ``client``'s ids: migration 1420's
    statement triggers add the rows of every INSERT and COPY (an upsert), move the ids an
    UPDATE moves, delete the rows a DELETE deletes and empty it on TRUNCATE, in the writing
    statement itself; nothing else writes it (tests/test_search_side_table.py checks each
    kind of write).
    """
    if not is_postgres() or scope(viewer, view_others=view_others) is not None:
        return None
    result: pw.ColumnBase | None = None
    for condition in flt.conditions:
        part = None if condition.negated else side_match(condition.key, condition.value)
        if part is None:
            return None  # a term on client's own columns or memberships: joined
        result = part if result is None else result & part
    return result


def _counted(
    flt: ClientFilter, viewer: Operator, field: pw.Node, *, view_others: bool
) -> pw.Select:
    """``select_clients(flt, viewer, field)`` for a count, or the same rows of
    ``client_unread`` alone where ``unread_rows`` allows, or of ``client_search`` alone where
    ``_side_where`` allows (``CLIENT_ID`` is then its ``client_id``, named ``id``; other fields
    must name no column of ``client``)."""
    unread = unread_rows(flt, viewer, field, view_others=view_others)
    if unread is not None:
        return unread
    side = _side_where(flt, viewer, view_others=view_others)
    if side is None:
        return select_clients(flt, viewer, field, view_others=view_others)
    column = SEARCH_ID.alias("id") if field is CLIENT_ID else field
    return CLIENT_SEARCH.select(column).where(side).bind(database_proxy)


def order_clients(query: pw.ModelSelect[Client], flt: ClientFilter) -> pw.ModelSelect[Client]:
    """``query`` in list order: pinned first, then activity or creation, newest first."""
    moment = Client.created_at if flt.sort == "created" else Client.last_action_at
    return query.order_by(Client.pinned.desc(), moment.desc(), CLIENT_ID.desc())


def count_clients(flt: ClientFilter, viewer: Operator, *, view_others: bool = False) -> int:
    """How many clients match ``flt`` within ``viewer``'s scope (``view_others``: as
    ``select_clients``)."""
    # A bare COUNT(*) over the filter, not peewee's COUNT over a wrapped subquery: SQLite
    # counts a whole table from its b-tree in ~1 ms instead of ~35 ms walking 1M rows.
    query = _counted(flt, viewer, pw.fn.COUNT(pw.SQL("*")), view_others=view_others)
    return int(query.scalar() or 0)


def _capped(query: pw.Select, cap: int) -> pw.Select:
    """``SELECT count(*) FROM (query LIMIT cap + 1)``: reads at most ``cap + 1`` rows."""
    return pw.Select([query.limit(cap + 1).alias("capped")], [pw.fn.COUNT(pw.SQL("*"))])


def count_capped(
    flt: ClientFilter, viewer: Operator, cap: int | None = None, *, view_others: bool = False
) -> ClientCount:
    """How many clients match ``flt`` within ``viewer``'s scope, exactly up to ``cap``
    (default ``COUNT_CAP``); ``view_others``: as ``select_clients``."""
    query = _counted(flt, viewer, pw.SQL("1"), view_others=view_others)
    return capped_counts({"n": query}, cap)["n"]


def capped_counts(
    queries: Mapping[str, pw.Select], cap: int | None = None
) -> dict[str, ClientCount]:
    """Capped counts of several client queries (``select_clients(..., pw.SQL("1"))`` narrowed
    as needed) in one statement; each reads at most ``cap + 1`` rows (default ``COUNT_CAP``)."""
    cap = COUNT_CAP if cap is None else cap
    names = list(queries)
    columns = [_capped(queries[name], cap).alias(f"c{i}") for i, name in enumerate(names)]
    row = execute(pw.Select(columns=columns)).fetchone()
    counts = [int(value or 0) for value in row]
    return {
        name: ClientCount(min(n, cap), exact=n <= cap)
        for name, n in zip(names, counts, strict=True)
    }


def page_clients(
    flt: ClientFilter,
    viewer: Operator,
    *,
    page: int = 1,
    per_page: int = 50,
    after: str | None = None,
    count: ClientCount | None = None,
    view_others: bool = False,
) -> Page:
    """Page ``page`` (from 1) of ``per_page`` clients, in list order, and the capped count.

    ``after``: a ``next_cursor`` of an earlier page; the page then holds the clients right
    after that one's last (a keyset page) and ``page`` is only the number it is shown as.
    A garbled cursor raises ``CursorError`` (one line). ``count``: the capped count when the
    caller has it already (the admin list counts every tab in one query); None counts.
    ``view_others``: as ``select_clients``.
    """
    if page < 1 or per_page < 1:
        raise ValueError("page and per_page count from 1")
    cursor = decode_cursor(after, flt.sort) if after is not None else None
    ids: str | None = None
    if count is None:
        count, ids = _count_with_ids(flt, viewer, view_others=view_others)
    offset = 0 if cursor is not None else (page - 1) * per_page
    rows: list[Client] = []
    if offset < count.value or not count.exact:
        if ids is not None and count.exact and count.value <= SMALL_RESULT:
            # The count read every match's id: the page is those clients, sorted; the filter
            # is not evaluated a second time (a trigram search at a million clients is most
            # of the cost).
            where = among(CLIENT_ID, ids)
            where = where if cursor is None else where & after_cursor(cursor)
            shaped = _by_ids(where, count.value)
        else:
            small = count.exact and count.value <= SMALL_RESULT
            shaped = _page_query(flt, viewer, small=small, after=cursor, view_others=view_others)
        query = order_clients(shaped, flt)
        # One row past the page tells whether a next page exists, without a count.
        rows = read_clients(query.offset(offset).limit(per_page + 1))
    next_cursor = None
    if len(rows) > per_page:
        rows = rows[:per_page]
        next_cursor = cursor_of(rows[-1], flt.sort).encode()
    return Page(clients=rows, count=count, number=page, per_page=per_page, next_cursor=next_cursor)


def _count_with_ids(
    flt: ClientFilter, viewer: Operator, *, view_others: bool
) -> tuple[ClientCount, str | None]:
    """``count_capped``, and the matching ids when the count is exact: one statement, the
    count's plan, the ids aggregated by the database into one value (an array on
    PostgreSQL, a JSON array on SQLite) rather than thousands of rows into Python, returned
    as text (PostgreSQL's array literal, SQLite's JSON) that the page binds again as it is
    (``sql.among``): decoding and encoding 1,604 ids cost ~0.4 ms of a 5 ms ``search:1988``
    on SQLite, several ms on PostgreSQL.

    PostgreSQL gathers the ids only for a filter with a term of ``GATHER_IDS``: its index
    entries carry no id, so asking for the ids of a filter on the client's own columns turns
    an index-only count into 10,001 row reads (``after:… before:…`` at a million clients:
    3.4 -> 20 ms), while running such a filter again for the page is an index range. A
    trigram search or a join (``label:hot unanswered``: 30-50 ms) is what must not run twice.
    A negated term (``-list:``, ``-label:``) does not count: it is an anti-join probing an
    index per client, cheap to run again, and its results are large, so the ids were
    aggregated past the cap for nothing (``array_agg`` runs whatever the ``CASE`` around it
    says: +0.3 ms of a 9 ms exclusion at a million clients).
    SQLite's index entries carry the id (the rowid): reading the ids costs it nothing extra,
    but aggregating them does whatever the ``CASE`` says (10,001 ids into JSON: +0.5 ms of
    CPU, 2026-12-06), so a filter of exclusions alone, or of none (everyone in scope), whose
    results are large by nature, is counted without them there too.
    """
    if is_postgres():
        gather = any(c.key in GATHER_IDS and not c.negated for c in flt.conditions)
    else:
        gather = any(not c.negated for c in flt.conditions)
    if not gather:
        return count_capped(flt, viewer, view_others=view_others), None
    capped = _counted(flt, viewer, CLIENT_ID, view_others=view_others)
    capped = capped.limit(COUNT_CAP + 1).alias("capped")
    n = pw.fn.COUNT(pw.SQL("*"))
    gathered: pw.ColumnBase
    if is_postgres():
        # The array as its text ('{7,12}'), bound again as it is (``sql.among``): psycopg
        # turns an int[] into a list and back item by item in Python, ~0.8 us per id
        # (label:hot unanswered, 7,165 ids: ~5 ms of client CPU per page, 2026-12-06).
        gathered = pw.fn.array_agg(capped.c.id).cast("text")
    else:
        gathered = pw.fn.json_group_array(capped.c.id)
    ids = pw.Case(None, [(n <= COUNT_CAP, gathered)], None)
    total, found = execute(pw.Select([capped], [n, ids])).fetchone()
    if total > COUNT_CAP:
        return ClientCount(COUNT_CAP, exact=False), None
    return ClientCount(int(total)), found or "{}"  # PostgreSQL: NULL when no rows


def cursor_of(client: Client, sort: str) -> Cursor:
    """The place of ``client`` in the list sorted by ``sort`` (``activity`` or ``created``)."""
    moment = client.created_at if sort == "created" else client.last_action_at
    return Cursor(sort=sort, pinned=bool(client.pinned), moment=moment, client_id=client.id)


def after_cursor(cursor: Cursor) -> pw.ColumnBase:
    """The clients strictly after ``cursor`` in list order. Every key descends, so it is one
    row-value comparison, which both databases answer from the list-order index.

    Past the pinned clients it is written ``NOT pinned AND (moment, id) < (...)``: PostgreSQL
    estimates a row comparison by its first column, and ``pinned < false`` matches nothing, so
    it planned a page after an unpinned cursor for one row — a scan and sort of the whole table
    (4 s at a million clients with ``-list:``). The two forms select the same clients."""
    moment = Client.created_at if cursor.sort == "created" else Client.last_action_at
    if not cursor.pinned:
        rest = pw.Tuple(moment, CLIENT_ID) < pw.Tuple(cursor.moment, cursor.client_id)
        return (Client.pinned == False) & rest  # noqa: E712
    return pw.Tuple(Client.pinned, moment, CLIENT_ID) < pw.Tuple(
        cursor.pinned, cursor.moment, cursor.client_id
    )


def _page_query(
    flt: ClientFilter,
    viewer: Operator,
    *,
    small: bool,
    after: Cursor | None = None,
    view_others: bool = False,
) -> pw.ModelSelect[Client]:
    """The matching clients (after ``after``), shaped for a page of a ``small`` (or large)
    result."""
    # SQLite walks the list-order index for a large result and tests each client it meets:
    # memberships as per-client probes, not a temporary copy of every member first.
    where = where_clause(flt, viewer, view_others=view_others, walk=not small)
    if after is not None:
        where = after_cursor(after) if where is None else where & after_cursor(after)
    if where is None:
        return Client.select()  # the list-order index serves it as it is
    if is_postgres():
        if not small:
            return Client.select().where(where)
        return _collected(where)
    if small:
        return Client.select().where(where)  # SQLite collects IN-subquery matches first
    # Many matches: walk the list-order index; SQLite would otherwise gather them all (one
    # row lookup each) and sort them to keep 50.
    in_order = pw.NodeList((Client, pw.SQL(f'INDEXED BY "{ORDER_INDEX[flt.sort]}"')))
    return Client.select().from_(in_order).where(where)


def _collected(where: pw.ColumnBase) -> pw.ModelSelect[Client]:
    """PostgreSQL: the clients matching ``where`` collected first, then sorted. A
    materialised CTE keeps the planner from walking the list-order index in the hope of
    meeting matches soon (it walks 1M rows)."""
    matches = Client.select(CLIENT_ID).where(where).cte("matches", materialized=True)
    return Client.select().join(matches, on=(matches.c.id == CLIENT_ID)).with_cte(matches)


def _by_ids(where: pw.ColumnBase, n: int) -> pw.ModelSelect[Client]:
    """The page of a small result whose ``n`` ids the count gathered (``where``: those ids).

    PostgreSQL plans ``id = ANY(ids)`` by the array's length: it walks the list-order index
    testing each client against the ids, which pays when matches are dense (7,165 of a
    million: ~7,800 rows walked, 28 ms) and not when they are sparse (``search:1988``, 1,604:
    ~32,000 rows, 109 ms). Up to ``WALK_IDS`` ids the clients are read by id and sorted
    instead (1,604: ~12 ms; 7,165 that way: 54 ms). SQLite always reads them by id.
    """
    if is_postgres() and n <= WALK_IDS:
        return _collected(where)
    return Client.select().where(where)


def client_ids(flt: ClientFilter, viewer: Operator) -> pw.ModelSelect[Client]:
    """A subquery of the matching ids, for set-based statements (``Client.id.in_(...)``)."""
    return select_clients(flt, viewer, CLIENT_ID)
