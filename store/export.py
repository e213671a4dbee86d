"""Exporting clients (F13): CSV with the eleven base columns plus one per variable, or XLSX.

Give it any query selecting ``Client`` rows (whatever filter produced it). Rows are streamed in
batches of ``batch_size`` clients (default 5,000), walked by keyset pagination on ``client.id``;
each batch costs three set-based queries (clients with bot and block, block history,
variables), so memory stays flat however many clients there are.

Timestamps are written as ISO 8601 with the offset of the project's time zone, to the second
(``2023-05-22T23:59:00+03:00``). The block column holds the current block's name; the block
history column the names of the blocks entered, oldest first, joined by `` > ``.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final

import peewee

from store.clock import iso_local
from store.db import database_proxy, is_postgres
from store.filters.sql import among
from store.models import Block, BlockHistory, Bot, Client, Variable

BASE_COLUMNS: Final = (
    "client_id",
    "name",
    "messenger",
    "bot",
    "messenger_id",
    "first_contact_at",
    "last_action_at",
    "avatar_url",
    "block",
    "block_history",
    "tag",
)
"""The eleven base columns of SPEC F13, in its order (``messenger_id`` is the phone on WhatsApp)."""

HISTORY_SEPARATOR: Final = " > "
CLIENT_ID: Final[Any] = Client._meta.primary_key  # the column (``Client.id`` is typed int)
DEFAULT_BATCH_SIZE: Final = 5000
STREAM_CACHE_KIB: Final = 16 * 1024  # SQLite page cache while an export streams
XLSX_MAX_ROWS: Final = 1_048_576  # rows per worksheet, header included

Progress = Callable[[int], None]
"""Called after each batch with the number of clients it held."""


@dataclass(slots=True)
class ExportRow:
    """One exported client: the eleven base values (as text, client_id as int) and variables."""

    base: list[Any]
    variables: dict[str, str] = field(default_factory=dict)


class TimestampFormatter:
    """``store.clock.iso_local`` for millions of values: the zone's offset is looked up once per
    UTC day (``astimezone`` costs ~2 us a value; a cached offset ~0.3 us).

    A day is cached only when its first and last microsecond have the same offset; the values
    of a day with a transition (a few a year) take the exact path.
    """

    def __init__(self, zone: dt.tzinfo) -> None:
        self.zone = zone
        self._days: dict[object, tuple[dt.timedelta, str] | None] = {}

    def __call__(self, value: dt.datetime | str | None) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            key: object = value[:10]  # 'YYYY-MM-DD'
            value = dt.datetime.fromisoformat(value)
        else:
            key = value.toordinal()
        try:
            cached = self._days[key]
        except KeyError:
            cached = self._days[key] = self._offset_of_day(value)
        if cached is None:
            return iso_local(value, self.zone)
        offset, suffix = cached
        try:
            return (value + offset).isoformat(timespec="seconds") + suffix
        except OverflowError:  # the first or last day datetime holds: clamped by in_zone
            return iso_local(value, self.zone)

    def _offset_of_day(self, value: dt.datetime) -> tuple[dt.timedelta, str] | None:
        start = value.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=dt.UTC)
        try:
            end = start + dt.timedelta(days=1, microseconds=-1)
            offset = start.astimezone(self.zone).utcoffset()
            if offset is None or end.astimezone(self.zone).utcoffset() != offset:
                return None
            sample = start.astimezone(self.zone).isoformat(timespec="seconds")
        except OverflowError:  # a day at the ends of datetime's range: the exact path clamps
            return None
        return offset, sample[19:]  # the '+03:00' after 'YYYY-MM-DDTHH:MM:SS'


def _sql(query: peewee.Query) -> tuple[str, list[Any]]:
    sql, params = query.sql()
    return sql, list(params)


def _rows(query: peewee.Query) -> list[tuple[Any, ...]]:
    # Raw cursor rows: peewee's per-value converters (date parsing on SQLite) cost more than
    # the whole CSV encoding at a million clients.
    sql, params = _sql(query)
    return list(database_proxy.execute_sql(sql, params).fetchall())


def _of_batch(column: Any, ids: Sequence[int], *, exact: bool = False) -> peewee.ColumnBase:
    """``column`` is one of the sorted ``ids`` or, when they are dense and not ``exact``, at
    least in their range.

    A dense batch (the usual: an export of everyone) is read as one index range, half the cost
    of a probe per id; callers drop the rows of ids outside the batch. A sparse batch binds the
    ids as ONE parameter (an array on PostgreSQL, a JSON array on SQLite): peewee renders a
    Python list as one parameter per value, which costs more than the query at 5,000 ids.
    """
    if not exact and ids[-1] - ids[0] < 2 * len(ids):
        return column.between(ids[0], ids[-1])
    return among(column, ids)


def variable_names(query: peewee.ModelSelect[Client]) -> list[str]:
    """The sorted names of every variable any client selected by ``query`` has."""
    ids = query.select(Client.id).order_by()
    names = (
        Variable.select(Variable.name)
        .where(Variable.client.in_(ids))
        .distinct()
        .order_by(Variable.name)
    )
    return sorted(row[0] for row in _rows(names))


def _base_batches(
    query: peewee.ModelSelect[Client], zone: dt.tzinfo, batch_size: int
) -> Iterator[tuple[list[int], list[list[Any]]]]:
    """``(ids, rows)`` per batch: the eleven base cells of each client, in ``client.id`` order."""
    stamp = TimestampFormatter(zone)
    with _small_page_cache():
        yield from _walk(query, stamp, batch_size)


@contextlib.contextmanager
def _small_page_cache() -> Iterator[None]:
    """A SQLite connection's page cache cut to ``STREAM_CACHE_KIB`` while an export streams.

    The export reads every page once; a big cache (store.db sets 256 MiB) would only grow
    the process by the size of the database. PostgreSQL keeps its cache in the server.
    """
    if is_postgres():
        yield
        return
    before = database_proxy.execute_sql("PRAGMA cache_size").fetchone()[0]
    database_proxy.execute_sql(f"PRAGMA cache_size = -{STREAM_CACHE_KIB}")
    try:
        yield
    finally:
        database_proxy.execute_sql(f"PRAGMA cache_size = {int(before)}")


class _Lookup:
    """``id -> (values...)`` of a small table (bots, blocks), read once and again on a miss
    (a row added while the export runs): two joins per client cost SQLite a row lookup each,
    more than the whole dictionary; a vanished row reads as empty values."""

    def __init__(self, query: peewee.Query, width: int) -> None:
        self._query = query
        self._empty = ("",) * width
        self._rows: dict[int, tuple[Any, ...]] = {}

    def __getitem__(self, key: int | None) -> tuple[Any, ...]:
        if key is None:
            return self._empty
        found = self._rows.get(key)
        if found is None:
            self._rows = {row[0]: tuple(row[1:]) for row in _rows(self._query)}
            found = self._rows.setdefault(key, self._empty)
        return found


def _walk(
    query: peewee.ModelSelect[Client], stamp: TimestampFormatter, batch_size: int
) -> Iterator[tuple[list[int], list[list[Any]]]]:
    bots = _Lookup(Bot.select(Bot.id, Bot.kind, Bot.name), 2)
    blocks = _Lookup(Block.select(Block.id, Block.name), 1)
    last_id = 0
    while True:
        # The batch's ids first, then its rows by those ids: PostgreSQL planned the one-query
        # form (``id IN (ids subquery)``) as a hash semi-join over the whole table per batch.
        batch = query.select(Client.id).where(Client.id > last_id).order_by(Client.id)
        ids = sorted({row[0] for row in _rows(batch.limit(batch_size))})  # joins repeat ids
        if not ids:
            return
        base = (
            Client.select(
                Client.id,
                Client.name,
                Client.bot,
                Client.messenger_id,
                Client.created_at,
                Client.last_action_at,
                Client.avatar_url,
                Client.block,
                Client.tag,
            )
            .where(_of_batch(CLIENT_ID, ids, exact=True))
            .order_by(Client.id)
        )
        clients = _rows(base)
        if not clients:  # all gone since the ids were read
            last_id = ids[-1]
            continue
        batch_ids = [row[0] for row in clients]
        last_id = batch_ids[-1]
        history = _history(batch_ids, blocks)
        no_history: list[str] = []
        yield (
            batch_ids,
            [
                [
                    cid,
                    name,
                    *bots[bot_id],  # kind, bot name
                    mid,
                    stamp(created),
                    stamp(last),
                    avatar or "",
                    blocks[block_id][0],
                    HISTORY_SEPARATOR.join(history.get(cid, no_history)),
                    tag or "",
                ]
                for cid, name, bot_id, mid, created, last, avatar, block_id, tag in clients
            ],
        )


def iter_export_rows(
    query: peewee.ModelSelect[Client],
    zone: dt.tzinfo,
    *,
    with_variables: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[list[ExportRow]]:
    """Batches of exported clients in ``client.id`` order, ``batch_size`` (default 5,000) each."""
    for batch_ids, rows in _base_batches(query, zone, batch_size):
        variables = _variables(batch_ids) if with_variables else {}
        yield [ExportRow(row, variables.get(row[0], {})) for row in rows]


def _history(client_ids: Sequence[int], blocks: _Lookup) -> dict[int, list[str]]:
    query = (
        BlockHistory.select(BlockHistory.client, BlockHistory.block)
        .where(_of_batch(BlockHistory.client, client_ids))
        .order_by(BlockHistory.client, BlockHistory.entered_at, BlockHistory.id)
    )
    history: dict[int, list[str]] = defaultdict(list)
    for client_id, block_id in _rows(query):
        history[client_id].append(blocks[block_id][0])
    return history


def _variable_rows(client_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """``(client_id, name, value)`` of every variable of ``client_ids``."""
    query = Variable.select(Variable.client, Variable.name, Variable.value).where(
        _of_batch(Variable.client, client_ids)
    )
    return _rows(query)


def _variables(client_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    variables: dict[int, dict[str, str]] = defaultdict(dict)
    for client_id, name, value in _variable_rows(client_ids):
        variables[client_id][name] = value
    return variables


def write_csv(
    query: peewee.ModelSelect[Client],
    out: IO[str],
    zone: dt.tzinfo,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> int:
    """Write the clients of ``query`` as CSV to ``out``; returns how many were written.

    Open ``out`` with ``newline=""`` (the csv module writes ``\\r\\n`` itself and quotes
    values holding commas, quotes or line breaks). Empty cell = no such variable.
    """
    with _small_page_cache():
        names = variable_names(query)
    column = {name: len(BASE_COLUMNS) + k for k, name in enumerate(names)}
    blank = [""] * len(names)
    writer = csv.writer(out)
    writer.writerow([*BASE_COLUMNS, *names])
    total = 0
    for batch_ids, rows in _base_batches(query, zone, batch_size):
        by_id: dict[int, list[Any]] = {}
        for row in rows:
            row.extend(blank)
            by_id[row[0]] = row
        # Each value goes straight to its cell: no per-client dict at a million clients. A
        # variable created since the header was written has no column and is left out.
        for client_id, name, value in _variable_rows(batch_ids):
            owner = by_id.get(client_id)  # None: outside the batch (see _of_batch)
            cell = column.get(name)
            if owner is not None and cell is not None:
                owner[cell] = value
        writer.writerows(rows)
        total += len(rows)
        if progress is not None:
            progress(len(rows))
    return total


def write_xlsx(
    query: peewee.ModelSelect[Client],
    path: str,
    zone: dt.tzinfo,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> int:
    """Write the clients of ``query`` to an .xlsx file at ``path`` (the eleven base columns).

    XlsxWriter's constant-memory mode flushes each row as it is written. A worksheet holds
    1,048,576 rows; more clients continue on ``Clients 2``, ``Clients 3``, ... Every value is
    written as text (client_id as a number): nothing is turned into a formula or a link.
    """
    import xlsxwriter

    workbook = xlsxwriter.Workbook(
        path,
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    total = 0
    sheet: Any = None
    sheet_no = 0
    row_no = XLSX_MAX_ROWS
    try:
        for batch in iter_export_rows(query, zone, with_variables=False, batch_size=batch_size):
            for row in batch:
                if row_no >= XLSX_MAX_ROWS:
                    sheet_no += 1
                    sheet = workbook.add_worksheet(
                        "Clients" if sheet_no == 1 else f"Clients {sheet_no}"
                    )
                    for col, title in enumerate(BASE_COLUMNS):
                        sheet.write_string(0, col, title)
                    row_no = 1
                sheet.write_number(row_no, 0, row.base[0])
                for col in range(1, len(BASE_COLUMNS)):
                    if row.base[col]:  # an empty value stays a blank cell
                        sheet.write_string(row_no, col, row.base[col])
                row_no += 1
            total += len(batch)
            if progress is not None:
                progress(len(batch))
        if sheet is None:  # no clients: still a valid workbook with the header
            sheet = workbook.add_worksheet("Clients")
            for col, title in enumerate(BASE_COLUMNS):
                sheet.write_string(0, col, title)
    finally:
        workbook.close()
    return total
