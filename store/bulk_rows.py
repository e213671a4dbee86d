"""Multi-row inserts, updates and look-ups whose statement text does not grow with the rows.

``Model.insert_many`` renders every value into the SQL (peewee spends ~1 us a value in
``Context.value``): for a batch of hundreds of messages the statement costs more to build
than the database spends on it (``docs/benchmarks.md``, the ingest profile). Here the rows
travel as ONE bound parameter per column, the statement is a fixed ``INSERT ... SELECT``:

* PostgreSQL: ``SELECT CAST(value->>0 AS integer), ... FROM json_array_elements(CAST(%s AS
  json))`` over one JSON array of the rows (the statement text is the same for any number of
  rows, so the server's plan is reused). Not ``unnest`` of one array per column: psycopg
  dumps a list element by element in Python (``ListDumper``, the top entry of serve's profile
  on PostgreSQL), ``json.dumps`` encodes the rows in C;
* SQLite: ``SELECT json_extract(value, '$[0]'), ... FROM json_each(?)`` over one JSON array of
  the rows (SQLite has no arrays; its JSON functions are C).

Columns of the model not given get their model default, bound once. Values go through the
fields' ``db_value`` only where a field converts (JSON text; timestamps as ISO text, and
booleans on SQLite). peewee renders each shape of statement once per process; later calls
only bind values. ``select_rows`` looks rows up by a JSON array of keys the same way
(``key = ANY(ARRAY(SELECT ... json_array_elements_text(...)))`` / ``key IN (SELECT value FROM
json_each(?))``, both probing the key's index once per value).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import peewee

from store.db import database_proxy, is_postgres
from store.fields import JSONField

Converter = Callable[[Any], Any]

PG_TYPES = {
    "AUTO": "integer",
    "BIGAUTO": "bigint",
    "INT": "integer",
    "BIGINT": "bigint",
    "SMALLINT": "smallint",
    "BOOL": "boolean",
    "DATETIME": "timestamp",
    "VARCHAR": "text",
    "TEXT": "text",
    "FLOAT": "double precision",
    "DOUBLE": "double precision",
}


def _as_is(value: Any) -> Any:
    return value


def _sqlite_stamp(value: Any) -> Any:
    # peewee stores a datetime on SQLite as the sqlite3 adapter's text, isoformat(" ").
    return value.isoformat(" ") if isinstance(value, dt.datetime) else value


def _pg_stamp(value: Any) -> Any:
    # ISO text in the JSON rows; CAST(... AS timestamp) reads it back to the microsecond. The
    # store's timestamps are naive UTC; an aware one is made so (the cast would drop its zone).
    if not isinstance(value, dt.datetime):
        return value
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat()


def _converter(model_field: peewee.Field, pg: bool) -> Converter | None:
    """What a value of ``model_field`` needs before it goes into the JSON rows, or None
    (nothing: ids, numbers, booleans on PostgreSQL and text go as they are)."""
    if isinstance(model_field, JSONField):
        return model_field.db_value
    if pg:
        return _pg_stamp if isinstance(model_field, peewee.DateTimeField) else None
    if isinstance(model_field, peewee.DateTimeField):
        return _sqlite_stamp
    if isinstance(model_field, peewee.BooleanField):
        return _sqlite_bool
    return None


def _sqlite_bool(value: Any) -> Any:
    return None if value is None else int(bool(value))


def _constant_converter(model_field: peewee.Field, pg: bool) -> Converter | None:
    """What a default bound once as its own parameter needs: on PostgreSQL psycopg adapts
    it (a datetime as a timestamp), only JSON becomes text."""
    if pg and not isinstance(model_field, JSONField):
        return None
    return _converter(model_field, pg)


def _pg_cells(fields: Sequence[peewee.Field]) -> list[peewee.Cast]:
    """``CAST(value->>k AS type)`` for each of ``fields``: the k-th cell of a JSON row array
    as the column's type (``->>`` gives JSON null as NULL, a string unescaped)."""
    return [
        peewee.Cast(peewee.SQL(f"value->>{k}"), PG_TYPES[f.field_type])
        for k, f in enumerate(fields)
    ]


def _rows_json(columns: Sequence[Sequence[Any]]) -> str:
    """The rows (given column by column) as one JSON array of row arrays."""
    return json.dumps(list(zip(*columns, strict=True)), ensure_ascii=False)


def _defaults(model: type[peewee.Model], given: Sequence[peewee.Field]) -> list[peewee.Field]:
    names = {f.name for f in given}
    return [
        f
        for f in model._meta.sorted_fields
        if f.name not in names and not isinstance(f, peewee.AutoField) and f.default is not None
    ]


class _Slot:
    """Stands for a value bound per call while a statement is rendered once."""

    def __init__(self, index: int) -> None:
        self.index = index


@dataclass(frozen=True, slots=True)
class _Statement:
    sql: str
    params: list[Any]  # constants, with a _Slot where each call binds its own value
    slots: list[tuple[int, int]]  # (position in params, index of the call's value)


_STATEMENTS: dict[tuple[Any, ...], _Statement] = {}


def _statement(
    model: type[peewee.Model],
    fields: Sequence[peewee.Field],
    defaults: Sequence[peewee.Field],
    returning: Sequence[peewee.Field],
    ignore_conflicts: bool,
    pg: bool,
    upsert: tuple[Sequence[peewee.Field], Sequence[peewee.Field]] | None = None,
) -> _Statement:
    """The statement for this shape of insert, rendered by peewee once per process."""
    key = (
        model,
        *fields,
        None,
        *returning,
        ignore_conflicts,
        pg,
        None if upsert is None else (tuple(upsert[0]), tuple(upsert[1])),
    )
    found = _STATEMENTS.get(key)
    if found is not None:
        return found
    slots = [
        peewee.Value(_Slot(k), converter=_as_is, unpack=False)
        for k in range(len(fields) + len(defaults))
    ]
    columns, constants = slots[: len(fields)], slots[len(fields) :]
    if pg:  # one JSON array of the rows: columns[0] stands for it, the others are unused
        rows = peewee.fn.json_array_elements(peewee.Cast(columns[0], "json"))
        source = peewee.Select([rows], [*_pg_cells(fields), *constants])
    else:  # one JSON array of the rows: columns[0] stands for it, the others are unused
        picks = [peewee.fn.json_extract(peewee.SQL("value"), f"$[{k}]") for k in range(len(fields))]
        source = peewee.Select([peewee.fn.json_each(columns[0])], [*picks, *constants]).where(
            peewee.SQL("true")
        )
    query = model.insert_from(source, [*fields, *defaults])
    if ignore_conflicts:
        query = query.on_conflict_ignore()
    if upsert is not None:
        target, updated = upsert
        query = query.on_conflict(
            conflict_target=list(target),
            update={f: getattr(peewee.EXCLUDED, f.column_name) for f in updated},
        )
    if returning:
        query = query.returning(*returning)
    sql, params = query.sql()
    positions = [(at, p.index) for at, p in enumerate(params) if isinstance(p, _Slot)]
    found = _STATEMENTS[key] = _Statement(sql, list(params), positions)
    return found


def insert_rows(
    model: type[peewee.Model],
    fields: Sequence[peewee.Field],
    rows: Sequence[Sequence[Any]],
    *,
    returning: Sequence[peewee.Field] = (),
    ignore_conflicts: bool = False,
    upsert: tuple[Sequence[peewee.Field], Sequence[peewee.Field]] | None = None,
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (tuples in ``fields`` order; foreign keys as ids) into ``model``'s
    table in one statement; returns the ``returning`` columns of the rows inserted as the
    database gives them (those a conflict skipped are not among them, with
    ``ignore_conflicts``). ``upsert=(target, updated)``: a row whose ``target`` columns
    conflict with a stored row sets that row's ``updated`` columns instead (no two rows of
    one call may share a target)."""
    if not rows:
        return []
    pg = is_postgres()
    defaults = _defaults(model, fields)
    statement = _statement(model, fields, defaults, returning, ignore_conflicts, pg, upsert)
    columns: list[Any] = list(zip(*rows, strict=True))
    for k, model_field in enumerate(fields):
        convert = _converter(model_field, pg)
        if convert is not None:
            columns[k] = [None if v is None else convert(v) for v in columns[k]]
    values: list[Any] = [_rows_json(columns)] + [None] * (len(fields) - 1)
    for model_field in defaults:
        value = model_field.default() if callable(model_field.default) else model_field.default
        convert = _constant_converter(model_field, pg)
        values.append(convert(value) if convert is not None else value)
    params = list(statement.params)
    for at, index in statement.slots:
        params[at] = values[index]
    cursor = database_proxy.obj.execute_sql(statement.sql, params)
    return [tuple(row) for row in cursor.fetchall()] if returning else []


def _update_statement(
    model: type[peewee.Model], key: peewee.Field, fields: Sequence[peewee.Field], pg: bool
) -> _Statement:
    """``UPDATE model SET f = u.f ... FROM (the rows) AS u WHERE key = u.key``, rendered once."""
    cache_key = ("update", model, key, *fields, pg)
    found = _STATEMENTS.get(cache_key)
    if found is not None:
        return found
    columns = [key, *fields]
    slots = [peewee.Value(_Slot(k), converter=_as_is, unpack=False) for k in range(len(columns))]
    picks: list[peewee.Node]
    if pg:
        picks = [cell.alias(f"c{k}") for k, cell in enumerate(_pg_cells(columns))]
        rows_of = peewee.fn.json_array_elements(peewee.Cast(slots[0], "json"))
        source = peewee.Select([rows_of], picks)
    else:
        picks = [
            peewee.fn.json_extract(peewee.SQL("value"), f"$[{k}]").alias(f"c{k}")
            for k in range(len(columns))
        ]
        source = peewee.Select([peewee.fn.json_each(slots[0])], picks)
    rows = source.alias("u")
    query = (
        model.update({f: getattr(rows.c, f"c{k}") for k, f in enumerate(fields, 1)})
        .from_(rows)
        .where(key == rows.c.c0)
    )
    sql, params = query.sql()
    positions = [(at, p.index) for at, p in enumerate(params) if isinstance(p, _Slot)]
    found = _STATEMENTS[cache_key] = _Statement(sql, list(params), positions)
    return found


def update_rows(
    model: type[peewee.Model],
    key: peewee.Field,
    fields: Sequence[peewee.Field],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Set ``fields`` of the rows whose ``key`` is each row's first value to its other
    values (tuples ``(key, *values in fields order)``), in one statement."""
    if not rows:
        return
    pg = is_postgres()
    statement = _update_statement(model, key, fields, pg)
    columns: list[Any] = list(zip(*rows, strict=True))
    for k, model_field in enumerate([key, *fields]):
        convert = _converter(model_field, pg)
        if convert is not None:
            columns[k] = [None if v is None else convert(v) for v in columns[k]]
    values = [_rows_json(columns)]
    params = list(statement.params)
    for at, index in statement.slots:
        params[at] = values[index]
    database_proxy.obj.execute_sql(statement.sql, params)


def _select_statement(
    model: type[peewee.Model],
    columns: Sequence[peewee.Field],
    equal: peewee.Field,
    key: peewee.Field,
    pg: bool,
) -> _Statement:
    """``SELECT columns FROM model WHERE equal = ? AND key IN (the keys)``, rendered once."""
    cache_key = ("select", model, *columns, equal, key, pg)
    found = _STATEMENTS.get(cache_key)
    if found is not None:
        return found
    value, keys = (peewee.Value(_Slot(k), converter=_as_is, unpack=False) for k in range(2))
    if pg:  # ARRAY(...) is evaluated once, then ``= ANY`` probes the index per key
        elements = peewee.fn.json_array_elements_text(peewee.Cast(keys, "json"))
        typed = peewee.Select(
            [elements], [peewee.Cast(peewee.SQL("value"), PG_TYPES[key.field_type])]
        )
        among = key == peewee.fn.ANY(peewee.NodeList([peewee.SQL("ARRAY"), typed]))
    else:
        among = key.in_(peewee.Select([peewee.fn.json_each(keys)], [peewee.SQL("value")]))
    sql, params = model.select(*columns).where((equal == value) & among).sql()
    positions = [(at, p.index) for at, p in enumerate(params) if isinstance(p, _Slot)]
    found = _STATEMENTS[cache_key] = _Statement(sql, list(params), positions)
    return found


def _reader(model_field: peewee.Field, pg: bool) -> Converter | None:
    """What a value read from ``model_field``'s column needs to be what the model gives, or
    None (ids, numbers and text come back as they are)."""
    if isinstance(model_field, JSONField):
        return model_field.python_value
    if pg:
        return None
    if isinstance(model_field, peewee.DateTimeField | peewee.BooleanField):
        return model_field.python_value
    return None


def select_rows(
    model: type[peewee.Model],
    columns: Sequence[peewee.Field],
    equal: tuple[peewee.Field, Any],
    key: peewee.Field,
    keys: Sequence[Any],
) -> list[tuple[Any, ...]]:
    """The ``columns`` (as the model reads them: timestamps as datetimes) of the rows whose
    ``equal[0]`` is ``equal[1]`` and whose ``key`` is one of ``keys``, in no set order; one
    statement of fixed text whatever the number of keys (a few hundred at most: one
    parameter)."""
    if not keys:
        return []
    pg = is_postgres()
    statement = _select_statement(model, columns, equal[0], key, pg)
    values = [equal[1], json.dumps(list(keys), ensure_ascii=False)]
    params = list(statement.params)
    for at, index in statement.slots:
        params[at] = values[index]
    rows = database_proxy.obj.execute_sql(statement.sql, params).fetchall()
    readers = [(k, r) for k, f in enumerate(columns) if (r := _reader(f, pg)) is not None]
    if not readers:
        return [tuple(row) for row in rows]
    out = []
    for row in rows:
        values = list(row)
        for k, read in readers:
            values[k] = read(values[k])
        out.append(tuple(values))
    return out
