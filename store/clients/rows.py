"""Running the client list's statements: integers inlined on PostgreSQL (``execute``), and a
page of clients read as ``Client`` models without peewee's per-field work (``read_clients``).

PostgreSQL plans a statement with parameters again on every run (the deploy file's
``plan_cache_mode = force_custom_plan``: a generic plan once estimated ``unread = $3`` as half
the table): 0.35-0.45 ms per statement at a million clients, about as long as running a page.
The ids, caps, limits and flags in these statements are our own integers, so ``execute``
writes them into the statement text; a statement left without parameters
(``-list:Spam -label:cold``, a tab, everything in scope) is then prepared once by psycopg
and planned once per connection, as the hand-written SQL is. Text, timestamps and id arrays
stay parameters (a statement per searched word would never be reused).

Peewee turns each row into a model by calling every field's ``python_value`` and then setting
each field through its descriptor (which also marks it dirty, then cleared): for a page of 51
clients, 1,000 conversions and 1,000 ``setattr`` — about as long as the page's statement
(~0.7 ms of CPU against ~0.2 on SQLite, 2026-12-06). ``read_clients`` runs the same statement
and builds the same models from the raw rows: only the columns whose driver value may not be
the field's Python value yet are converted, by the field's own ``python_value`` (timestamps,
SQLite's 0/1 booleans), and each model's data is set in one assignment.
tests/test_client_rows.py checks the models equal peewee's own and save like them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import peewee as pw

from store.db import database_proxy, is_postgres
from store.models import Client

Convert = Callable[[Any], Any] | None

# Fields whose values both drivers (sqlite3, psycopg) already return as the field's Python
# type (exactly these classes: a subclass may convert, as ``store.fields.JSONField`` does).
_AS_IS = frozenset({pw.AutoField, pw.IntegerField, pw.ForeignKeyField, pw.CharField, pw.TextField})


# And on PostgreSQL: psycopg returns ``timestamp`` as ``datetime`` and ``boolean`` as ``bool``,
# which these fields' ``python_value`` returns as it is (357 calls a page of 51 clients).
_AS_IS_PG = _AS_IS | {pw.DateTimeField, pw.BooleanField}


def _converter(field: pw.Field, postgres: bool) -> Convert:
    as_is = _AS_IS_PG if postgres else _AS_IS
    return None if type(field) in as_is else field.python_value


_CONVERTERS: dict[tuple[bool, tuple[str, ...]], list[tuple[str, Convert]]] = {}


def _columns(names: Sequence[str]) -> list[tuple[str, Convert]]:
    """Each result column's field name and converter (cached per database kind and column
    list)."""
    postgres = is_postgres()
    key = (postgres, tuple(names))
    found = _CONVERTERS.get(key)
    if found is None:
        by_column = Client._meta.columns
        found = [(by_column[name].name, _converter(by_column[name], postgres)) for name in key[1]]
        _CONVERTERS[key] = found
    return found


def inline_integers(sql: str, params: Sequence[Any]) -> tuple[str, list[Any]]:
    """PostgreSQL's ``(sql, params)`` with every int and bool parameter written as a literal
    (a negative one in parentheses); the others stay parameters. A statement whose ``%s``
    placeholders do not pair with ``params`` one to one (a ``%%s`` in its text) is returned
    as it is."""
    pieces = sql.split("%s")
    if len(pieces) != len(params) + 1 or not any(type(v) in (int, bool) for v in params):
        return sql, list(params)
    text = [pieces[0]]
    kept: list[Any] = []
    for value, piece in zip(params, pieces[1:], strict=True):
        if type(value) is bool:
            text.append("TRUE" if value else "FALSE")
        elif type(value) is int:
            text.append(str(value) if value >= 0 else f"({value})")
        else:
            text.append("%s")
            kept.append(value)
        text.append(piece)
    return "".join(text), kept


def execute(query: pw.Query) -> Any:
    """Runs ``query`` (its cursor); on PostgreSQL with ``inline_integers``."""
    sql, params = database_proxy.get_sql_context().sql(query).query()
    if is_postgres():
        sql, params = inline_integers(sql, params)
    return database_proxy.execute_sql(sql, params)


class _ClientColumns(pw.ColumnBase):
    """Every column of ``client`` qualified by the table's alias in the statement: the text
    peewee renders for ``Client.select()``'s selection, written once per alias.

    Peewee renders the 19 columns as 19 fields (~60 node visits): ~0.3 ms of a page
    statement's ~0.55 ms of rendering (SQLite, PostgreSQL alike, 2026-12-06), on every page.
    """

    # (the database's quote characters, alias ("t1")) -> the column list
    _text: ClassVar[dict[tuple[str, str], str]] = {}

    def __sql__(self, ctx: pw.Context) -> pw.Context:
        alias = ctx.alias_manager[Client._meta.table]
        key = (str(ctx.state.quote), alias)
        text = self._text.get(key)
        if text is None:
            # The fields themselves, rendered by peewee once (quoting as the database does).
            inner = pw.Context()
            inner.state = ctx.state  # the selection's scope and settings
            inner.alias_manager[Client._meta.table] = alias
            text = inner.sql(pw.CommaNodeList(Client._meta.sorted_fields)).query()[0]
            self._text[key] = text
        return ctx.literal(text)


CLIENT_COLUMNS = _ClientColumns()


def read_clients(query: pw.ModelSelect[Client]) -> list[Client]:
    """The clients ``query`` selects (whole ``Client`` rows, ``Client.select()``), as peewee
    would return them."""
    if getattr(query, "_is_default", False):  # peewee's own flag, untyped
        query = query.select(CLIENT_COLUMNS)  # the same columns, rendered once per alias
    cursor = execute(query)
    columns = _columns([column[0] for column in cursor.description])
    converted = [(i, convert) for i, (_, convert) in enumerate(columns) if convert is not None]
    names = [name for name, _ in columns]
    clients = []
    for row in cursor.fetchall():
        values: Sequence[Any] = row
        if converted:
            values = list(row)
            for i, convert in converted:
                values[i] = convert(values[i])
        client = Client.__new__(Client)
        # What Model.__init__ leaves after setting every field and clearing the dirty set.
        vars(client).update(
            __data__=dict(zip(names, values, strict=True)), _dirty=set(), __rel__={}
        )
        clients.append(client)
    return clients
