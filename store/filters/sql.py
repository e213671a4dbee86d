"""How each filter becomes SQL: Peewee expressions over ``Client``, with bound parameters.

Substring search uses trigram indexes: on SQLite the FTS5 table ``client_fts`` of migration
0301 (name, messenger id and the id as text; it folds case for every alphabet), on PostgreSQL
``ILIKE`` over the side table ``client_search`` of migration 1420 (the same three values, kept
in step with ``client`` by statement triggers), served by its pg_trgm GIN indexes. A trigram
index needs at least 3 characters: shorter needles fall back to a scan (of the narrow side
table on PostgreSQL; ``sb_lower`` is a Python ``str.lower`` registered on every SQLite
connection, because SQLite's own ``lower``/``LIKE`` fold ASCII only).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any, Literal, cast

import peewee as pw

from store.db import is_postgres
from store.models import Client, ClientUnread, LabelMembership, ListMembership, Variable

TRIGRAM = 3  # characters a trigram index needs to help

Expr = pw.ColumnBase
# How a membership (list, label, variable) is written, for the plan around it (``_member``).
Form = Literal["drive", "probe", "test"]
# The models annotate ``id`` as int for row access; in SQL it is the column.
CLIENT_ID = cast(pw.AutoField, Client.id)
# PostgreSQL only (migration 1420), so not a model: the models describe both databases.
CLIENT_SEARCH = pw.Table("client_search")
SEARCH_ID, SEARCH_NAME, SEARCH_MESSENGER_ID = (
    pw.Column(CLIENT_SEARCH, name) for name in ("client_id", "name", "messenger_id")
)


def _fts_phrase(needle: str) -> str:
    # An FTS5 string literal: double quotes doubled; a phrase of trigrams = a substring.
    return '"' + needle.replace('"', '""') + '"'


def _fts_match(columns: str, needle: str) -> Expr:
    query = f"{{{columns}}} : {_fts_phrase(needle)}"
    return CLIENT_ID.in_(pw.SQL("(SELECT rowid FROM client_fts WHERE client_fts MATCH ?)", [query]))


def _name_match(needle: str) -> Expr:
    return SEARCH_NAME.contains(needle) | SEARCH_MESSENGER_ID.contains(needle)


def _id_match(needles: Sequence[str]) -> Expr:
    as_text = SEARCH_ID.cast("text")
    return _any([as_text.contains(needle) for needle in needles])


# The terms that are a condition on a client's ``client_search`` row alone (PostgreSQL).
SIDE_MATCH: dict[str, Callable[[Any], Expr]] = {"search": _name_match, "id": _id_match}


def side_match(key: str, value: Any) -> Expr | None:
    """PostgreSQL: the term ``key:value`` (not negated) as a condition on ``client_search``'s
    columns alone, for the terms that are one (``search``, ``id``); None for any other."""
    make = SIDE_MATCH.get(key)
    return None if make is None else make(value)


def _searched(condition: Expr) -> Expr:
    """The client's row in ``client_search`` meets ``condition`` (PostgreSQL)."""
    return CLIENT_ID.in_(CLIENT_SEARCH.select(SEARCH_ID).where(condition))


def search(needle: str) -> Expr:
    """Name or messenger id contains ``needle``, ignoring case in every alphabet."""
    if is_postgres():
        return _searched(_name_match(needle))
    if len(needle) >= TRIGRAM:
        return _fts_match("name messenger_id", needle)
    folded = needle.lower()
    return (pw.fn.instr(pw.fn.sb_lower(Client.name), folded) > 0) | (
        pw.fn.instr(pw.fn.sb_lower(Client.messenger_id), folded) > 0
    )


def id_contains(needles: Sequence[str]) -> Expr:
    """The internal id, written in decimal, contains any of ``needles`` (digits)."""
    if is_postgres():
        return _searched(_id_match(needles))
    parts: list[Expr] = []
    for needle in needles:
        if len(needle) >= TRIGRAM:
            parts.append(_fts_match("id", needle))
        else:
            parts.append(pw.fn.instr(CLIENT_ID.cast("TEXT"), needle) > 0)
    return _any(parts)


def in_lists(
    list_ids: Sequence[int], negated: bool, form: Form = "drive", *, column: Expr = CLIENT_ID
) -> Expr:
    """In any of the lists; negated: in none of them. ``form``: see ``Form``. ``column``: the
    client id tested (default ``client.id``; ``client_unread.client_id`` for
    ``store.clients.query.unread_rows``)."""
    correlated = ListMembership.select(pw.SQL("1")).where(
        (ListMembership.client == column) & ListMembership.mailing_list.in_(list_ids)
    )
    if negated:
        return _none_of(correlated)
    members = ListMembership.select(ListMembership.client).where(
        ListMembership.mailing_list.in_(list_ids)
    )
    return _member(members, correlated, form, column)


def has_labels(
    label_ids: Sequence[int], negated: bool, form: Form = "drive", *, column: Expr = CLIENT_ID
) -> Expr:
    """Having any of the labels; negated: having none of them. ``form``, ``column``: as
    ``in_lists``."""
    correlated = LabelMembership.select(pw.SQL("1")).where(
        (LabelMembership.client == column) & LabelMembership.label.in_(label_ids)
    )
    if negated:
        return _none_of(correlated)
    members = LabelMembership.select(LabelMembership.client).where(
        LabelMembership.label.in_(label_ids)
    )
    return _member(members, correlated, form, column)


def _member(
    members: pw.SelectQuery, correlated: pw.SelectQuery, form: Form, column: Expr = CLIENT_ID
) -> Expr:
    """The client (``column``: its id) is one of ``members`` (a subquery of client ids), in
    ``form``:

    - ``drive``: ``id IN (members)``, which lets the database start from the members: the
      plan for a count, or when the members are few.
    - ``probe``: ``EXISTS (correlated)``, the membership index probed per client. A page that
      walks the list-order index can only test each client it meets: with ``IN`` SQLite
      first copies every member into a temporary b-tree (127,742 for ``list:VIP,Gold`` at a
      million clients, ~55 ms) to test 400 clients; ``EXISTS`` probes for just those (0.5 ms).
    - ``test``: ``+id IN (members)`` (SQLite): the members collected once, each client that
      another index yields tested against them, never read by id from the members. For the
      unread clients: SQLite drove ``label:hot unanswered`` by the label (89,599 client rows
      read by id, ~200 ms) rather than by the 79,804 unread ids (~65 ms); ``unread`` itself
      is then written ``drive``.
    """
    if form == "probe":
        return pw.fn.EXISTS(correlated)
    if form == "test":
        return pw.NodeList((pw.SQL("+"), column), glue="").in_(members)
    return column.in_(members)


def _none_of(correlated: pw.SelectQuery) -> Expr:
    """The client has no row in ``correlated``: a correlated ``NOT EXISTS``, on both databases.

    An anti-join that probes the membership index per client, so a page or a capped count
    stops after the clients it needs (at 1,000,000 clients, 72 % of them outside the lists,
    a few thousand probes). ``NOT IN`` built the whole member set first (130,000-180,000 ids
    per exclusion) before the first client could be returned: 3x faster for an exact count
    of every match, but counts on pages are capped now and exact ones run only for actions.
    """
    return ~pw.fn.EXISTS(correlated)


def variable(
    name: str | None, value: str | None, form: Form = "drive", *, column: Expr = CLIENT_ID
) -> Expr:
    """Has a variable with exactly this name and/or exactly this value. ``form``, ``column``:
    as ``in_lists``."""
    cond: Expr | None = None
    if name is not None:
        cond = Variable.name == name
    if value is not None:
        cond = (Variable.value == value) if cond is None else cond & (Variable.value == value)
    correlated = Variable.select(pw.SQL("1")).where((Variable.client == column) & cond)
    return _member(Variable.select(Variable.client).where(cond), correlated, form, column)


def responsible(ids: Sequence[int | None], column: pw.Field | None = None) -> Expr:
    """Bound to any of the operators; ``None`` in ``ids`` means bound to nobody. ``column``:
    the responsible column to test (default ``client.responsible_id``; ``client_unread``'s
    copy to count unread clients from that table alone, ``store.clients.query``)."""
    column = Client.responsible if column is None else column
    parts: list[Expr] = []
    real = [i for i in ids if i is not None]
    if real:
        parts.append(column.in_(real))
    if None in ids:
        parts.append(column.is_null())
    return _any(parts)


def unread(form: Form = "drive") -> Expr:
    """The unread clients: those with a row in ``client_unread`` (``store.clients.unread``
    writes it). ``form``: see ``Form``; ``test`` is written as ``drive``, since a filter that
    asks for the unread clients is started from them (``store.clients.query.membership_form``:
    its other memberships are the ones tested)."""
    members = ClientUnread.select(ClientUnread.client)
    correlated = ClientUnread.select(pw.SQL("1")).where(ClientUnread.client == CLIENT_ID)
    return _member(members, correlated, "drive" if form == "test" else form)


def tab(
    name: str, viewer_id: int, form: Form = "drive", *, column: pw.Field | None = None
) -> Expr | None:
    """The tabs of F10 as conditions; ``all`` adds none. ``column``: as ``responsible``; given
    (``client_unread``'s), the rows tested are unread already, so ``unanswered`` adds none."""
    if name == "unanswered":
        return unread(form) if column is None else None
    column = Client.responsible if column is None else column
    if name == "mine":
        return column == viewer_id
    if name == "others":
        return column.is_null(False) & (column != viewer_id)
    if name == "free":
        return column.is_null()
    return None


def created_before(moment: dt.datetime) -> Expr:
    return Client.created_at < moment


def created_since(moment: dt.datetime) -> Expr:
    return Client.created_at >= moment


def among(column: pw.ColumnBase, ids: Sequence[int] | str) -> Expr:
    """``column`` is one of ``ids``, bound as ONE parameter: an array literal's text on
    PostgreSQL (``'{7,12}'``, typed ``integer[]`` by the statement), a JSON array on SQLite.
    Peewee renders a Python list as one parameter per value, which costs more than the query
    at thousands of ids, and psycopg dumps a list item by item in Python (~0.5 us an id).
    ``ids`` may be that text already (what ``array_agg(id)::text`` or SQLite's
    ``json_group_array`` returned): bound as it is; a JSON array on PostgreSQL is converted."""
    if is_postgres():
        if not isinstance(ids, str):
            literal = "{" + ",".join(str(int(i)) for i in ids) + "}"
        elif ids.startswith("["):
            literal = "{" + ",".join(str(int(i)) for i in json.loads(ids)) + "}"
        else:
            literal = ids
        return pw.NodeList((column, pw.SQL("= ANY(%s::integer[])", [literal])))
    encoded = ids if isinstance(ids, str) else json.dumps(list(ids))
    return column.in_(pw.SQL("(SELECT value FROM json_each(?))", [encoded]))


def _any(parts: Sequence[Expr]) -> Expr:
    result = parts[0]
    for part in parts[1:]:
        result = result | part
    return result
