"""Writing one batch of imported clients (``store.importer``): staged, then set-based SQL.

The batch's rows go into three temporary tables first — ``executemany`` on SQLite, ``COPY``
on PostgreSQL, no SQL text per row — and a fixed handful of statements moves them into the
store, whatever the batch's size: new blocks, the existing clients updated (an empty cell
keeps what the client has), the new clients inserted, their block history replaced and their
variables upserted. The statements join the staged rows to ``client`` on its unique
(bot, messenger id) index. The caller runs a batch in one write transaction.

Building a multi-row ``INSERT`` in peewee cost more than the database's whole work on it
(issue 14: 1,600 rows/s on SQLite, 760 on PostgreSQL with 500 rows a statement).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from store.clients.search_index import defer_new_clients
from store.db import database_proxy, execute_text, is_postgres
from store.models import Client

STAGE_ROW: Final = "import_stage_row"
STAGE_HISTORY: Final = "import_stage_history"
STAGE_VARIABLE: Final = "import_stage_variable"
COPY: Final = {
    STAGE_ROW: "COPY import_stage_row FROM STDIN",
    STAGE_HISTORY: "COPY import_stage_history FROM STDIN",
    STAGE_VARIABLE: "COPY import_stage_variable FROM STDIN",
}
INSERT: Final = {
    STAGE_ROW: "INSERT INTO import_stage_row VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    STAGE_HISTORY: "INSERT INTO import_stage_history VALUES (?, ?, ?, ?, ?)",
    STAGE_VARIABLE: "INSERT INTO import_stage_variable VALUES (?, ?, ?, ?)",
}
CLEAR_SQLITE: Final = (
    "DELETE FROM import_stage_row",
    "DELETE FROM import_stage_history",
    "DELETE FROM import_stage_variable",
)

# Client columns the import writes; the others get their model defaults on insert.
WRITTEN = frozenset(
    {"id", "bot_id", "messenger_id", "name", "created_at", "last_action_at", "avatar_url"}
    | {"block_id", "tag"}
)


STEPS: Final = [dt.timedelta(microseconds=step) for step in range(64)]

Stamp = dt.datetime | str | None  # a timestamp as staged: text on SQLite, datetime on PostgreSQL


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs ~2 us a row
class StagedClient:
    """One row of the file as staging tuples, built by ``Stager.row`` while the file is read
    (in the read-ahead thread, beside the database's work on the batch before)."""

    line: int
    key: tuple[int, str]  # (bot id, messenger id)
    client: tuple[Any, ...]  # the import_stage_row values
    history: list[tuple[Any, ...]]  # import_stage_history; entered_at None: at the batch's time
    variables: list[tuple[int, str, str, str]]  # import_stage_variable


class Stager:
    """Builds ``StagedClient``s for one import: timestamps in the database's form, history
    positions numbered across the import (the file's order is the order export reads back)."""

    def __init__(self, pg: bool) -> None:
        self.pg = pg
        self.position = 0

    def row(
        self,
        line: int,
        bot_id: int,
        messenger_id: str,
        name: str | None,
        created_at: dt.datetime | None,
        last_action_at: dt.datetime | None,
        avatar_url: str | None,
        block: str | None,
        tag: str | None,
        history: Sequence[str],
        variables: list[tuple[int, str, str, str]],
    ) -> StagedClient:
        """``None``: the cell was empty (an existing client keeps its value)."""
        pg = self.pg
        created = created_at if pg or created_at is None else created_at.isoformat(" ")
        last = last_action_at if pg or last_action_at is None else last_action_at.isoformat(" ")
        client = (line, bot_id, messenger_id, name, created, last, avatar_url, block, tag)
        if not history:
            return StagedClient(line, (bot_id, messenger_id), (*client, False), [], variables)
        first = self.position
        self.position += len(history)
        staged: list[tuple[Any, ...]]
        if created_at is None:  # entered "now": the batch's time, set when it is staged
            staged = [
                (bot_id, messenger_id, block_name, None, first + step)
                for step, block_name in enumerate(history)
            ]
        elif not pg and created_at.microsecond == 0 and len(history) < 1_000_000:
            # Microseconds apart: the file's order is the order export reads back. The text
            # of a whole second plus a step written directly (isoformat(" ")'s, 5x cheaper).
            staged = [(bot_id, messenger_id, history[0], created, first)]
            staged += [
                (bot_id, messenger_id, block_name, f"{created}.{step:06d}", first + step)
                for step, block_name in enumerate(history[1:], 1)
            ]
        else:
            at = [_stamp(_after(created_at, step), pg) for step in range(len(history))]
            staged = [
                (bot_id, messenger_id, block_name, at[step], first + step)
                for step, block_name in enumerate(history)
            ]
        return StagedClient(line, (bot_id, messenger_id), (*client, True), staged, variables)


def _after(entered: dt.datetime, step: int) -> dt.datetime:
    return entered + STEPS[step] if step < len(STEPS) else entered + dt.timedelta(0, 0, step)


def _tables(pg: bool) -> list[str]:
    stamp = "timestamp" if pg else "TEXT"
    # PostgreSQL empties them at each commit; SQLite's are emptied before each batch.
    keep = " ON COMMIT DELETE ROWS" if pg else ""
    return [
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_ROW} (line INTEGER, bot_id INTEGER, "
        f"messenger_id TEXT, name TEXT, created_at {stamp}, last_action_at {stamp}, "
        f"avatar_url TEXT, block TEXT, tag TEXT, has_history BOOLEAN){keep}",
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_HISTORY} (bot_id INTEGER, messenger_id TEXT, "
        f"block TEXT, entered_at {stamp}, position BIGINT){keep}",
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_VARIABLE} (bot_id INTEGER, messenger_id TEXT, "
        f"name TEXT, value TEXT){keep}",
    ]


def _stamp(value: dt.datetime | None, pg: bool) -> Stamp:
    # SQLite keeps peewee's text form of a datetime (its sqlite3 adapter's, isoformat(" ")).
    if value is None or pg:
        return value
    return value.isoformat(" ")


def _stage(rows: Sequence[StagedClient], now: dt.datetime, pg: bool) -> None:
    history: list[tuple[Any, ...]] = []
    for row in rows:
        if row.history and row.history[0][3] is None:  # no created_at: entered now
            history += [
                (*entry[:3], _stamp(_after(now, step), pg), entry[4])
                for step, entry in enumerate(row.history)
            ]
        else:
            history += row.history
    _fill(STAGE_ROW, [row.client for row in rows], pg)
    _fill(STAGE_HISTORY, history, pg)
    _fill(STAGE_VARIABLE, [variable for row in rows for variable in row.variables], pg)


def _fill(table: str, values: list[tuple[Any, ...]], pg: bool) -> None:
    if not values:
        return
    database = database_proxy.obj
    if pg:
        with database.cursor() as cursor, cursor.copy(COPY[table]) as copy:
            for value in values:
                copy.write_row(value)
        return
    database.cursor().executemany(INSERT[table], values)


def _defaults(now: dt.datetime, pg: bool) -> tuple[list[str], list[Any]]:
    """The client columns the import does not write with their model defaults."""
    columns, values = [], []
    for model_field in Client._meta.sorted_fields:
        if model_field.column_name in WRITTEN or model_field.null:
            continue
        default = model_field.default
        value = default() if callable(default) else default
        if isinstance(value, dt.datetime):
            value = _stamp(value, pg)
        columns.append(model_field.column_name)
        values.append(model_field.db_value(value) if not isinstance(value, str) else value)
    return columns, values


def _execute(sql: str, params: Sequence[Any] = ()) -> int:
    """Run one statement written with ``?`` placeholders; returns the rows it changed."""
    return int(execute_text(sql, params).rowcount)


# The statements: constant text, every value bound. They match a staged row to its client
# on the unique (bot_id, messenger_id) index.
NEW_BLOCKS: Final = (
    "INSERT INTO block (name) SELECT block FROM ("
    "SELECT block FROM import_stage_row WHERE block IS NOT NULL "
    "UNION SELECT block FROM import_stage_history) AS names WHERE true ON CONFLICT DO NOTHING"
)
# A name only where it changes: SQLite's search index is rewritten for every row whose name
# is set, changed or not.
RENAME: Final = (
    "UPDATE client SET name = s.name FROM import_stage_row AS s "
    "WHERE client.bot_id = s.bot_id AND client.messenger_id = s.messenger_id "
    "AND s.name IS NOT NULL AND client.name <> s.name"
)
# An empty cell (NULL) keeps what the client has.
UPDATE: Final = (
    "UPDATE client SET "
    "created_at = COALESCE(s.created_at, client.created_at), "
    "last_action_at = COALESCE(s.last_action_at, client.last_action_at, "
    "s.created_at, client.created_at), "
    "avatar_url = COALESCE(s.avatar_url, client.avatar_url), "
    "block_id = COALESCE((SELECT block.id FROM block WHERE block.name = s.block), "
    "client.block_id), "
    "tag = COALESCE(s.tag, client.tag) "
    "FROM import_stage_row AS s "
    "WHERE client.bot_id = s.bot_id AND client.messenger_id = s.messenger_id"
)
INSERT_HEAD: Final = (
    "INSERT INTO client (bot_id, messenger_id, name, created_at, last_action_at, avatar_url, "
    "block_id, tag"
)
INSERT_SELECT: Final = (
    "SELECT s.bot_id, s.messenger_id, COALESCE(s.name, ''), COALESCE(s.created_at, ?), "
    "COALESCE(s.last_action_at, s.created_at, ?), s.avatar_url, block.id, s.tag"
)
INSERT_TAIL: Final = (
    " FROM import_stage_row AS s LEFT JOIN block ON block.name = s.block "
    "WHERE NOT EXISTS (SELECT 1 FROM client "
    "WHERE client.bot_id = s.bot_id AND client.messenger_id = s.messenger_id) "
    "ORDER BY s.line ON CONFLICT DO NOTHING"
)
FORGET_HISTORY: Final = (
    "DELETE FROM block_history WHERE client_id IN (SELECT client.id FROM import_stage_row AS s "
    "JOIN client ON client.bot_id = s.bot_id AND client.messenger_id = s.messenger_id "
    "WHERE s.has_history)"
)
CLIENT_ROWS: Final = "SELECT reltuples FROM pg_class WHERE oid = 'client'::regclass"
ADD_HISTORY: Final = (
    "INSERT INTO block_history (client_id, block_id, entered_at) "
    "SELECT client.id, block.id, s.entered_at FROM import_stage_history AS s "
    "JOIN client ON client.bot_id = s.bot_id AND client.messenger_id = s.messenger_id "
    "JOIN block ON block.name = s.block ORDER BY s.position"
)
SET_VARIABLES: Final = (
    "INSERT INTO variable (client_id, name, value) "
    "SELECT client.id, s.name, s.value FROM import_stage_variable AS s "
    "JOIN client ON client.bot_id = s.bot_id AND client.messenger_id = s.messenger_id "
    "WHERE true ON CONFLICT (client_id, name) DO UPDATE SET value = excluded.value"
)


def write_staged(
    rows: Sequence[StagedClient], now: dt.datetime, statistics: Statistics | None = None
) -> tuple[int, int]:
    """Write ``rows`` (distinct clients, at most one per (bot, messenger id)); returns
    (created, updated). Run inside a write transaction; one ``statistics`` for every batch
    of an import."""
    if not rows:
        return 0, 0
    pg = is_postgres()
    for statement in _tables(pg):
        _execute(statement)
    if not pg:
        for statement in CLEAR_SQLITE:
            _execute(statement)
    _stage(rows, now, pg)
    # SQLite: the new clients go into the search index at the end of the import, set-based.
    defer_new_clients()
    if pg:
        # Each staged row finds its client through the unique (bot, messenger id) index: a
        # hash join would scan the whole client table once per statement.
        _execute("SET LOCAL enable_hashjoin = off")
        _execute("SET LOCAL enable_mergejoin = off")
        if statistics is not None:
            statistics.refresh()
    _execute(NEW_BLOCKS)
    updated = _update_existing()
    if updated:  # before the new clients exist: only existing ones have any history
        # (skipped when none: without block_history's client index, deferred by a big
        # import, the statement would scan the whole table)
        _execute(FORGET_HISTORY)
    created = _insert_new(now, pg)
    if created + updated < len(rows):  # another writer created some meanwhile (PostgreSQL)
        _update_existing()  # the file's values onto theirs (again onto ours: the same values)
        _execute(FORGET_HISTORY)
        updated = len(rows) - created
    if statistics is not None:
        statistics.written += created + updated
    _execute(ADD_HISTORY)
    _execute(SET_VARIABLES)
    return created, updated


class Statistics:
    """Keeps the planner's picture of the client table current during one import
    (PostgreSQL): ANALYZE once the import has written more rows than the table had when last
    analyzed (and 10,000 at least), a few times in a million rows. Autovacuum lags a minute
    behind; on statistics of a table thought tiny the planner took the (bot, bsuid) index for
    a (bot, messenger id) match: a scan of all the bot's clients per staged row."""

    def __init__(self) -> None:
        self.rows: float | None = None  # what the statistics say the table holds
        self.written = 0  # rows this import wrote since

    def refresh(self) -> None:
        if self.rows is None:
            self.rows = float(database_proxy.obj.execute_sql(CLIENT_ROWS).fetchone()[0])
        if self.written > max(self.rows, 0) + 10_000:
            _execute("ANALYZE client")
            self.rows = float(database_proxy.obj.execute_sql(CLIENT_ROWS).fetchone()[0])
            self.written = 0


def _update_existing() -> int:
    """Update the staged clients that exist; returns how many."""
    _execute(RENAME)
    return _execute(UPDATE)


def _insert_new(now: dt.datetime, pg: bool) -> int:
    """Insert the staged clients that do not exist yet; returns how many."""
    columns, values = _defaults(now, pg)
    # The other columns' names come from the model, their values are bound.
    head = "".join([INSERT_HEAD, *(f", {column}" for column in columns), ") "])
    select = INSERT_SELECT + ", ?" * len(values)
    stamp = _stamp(now, pg)
    return _execute(head + select + INSERT_TAIL, [stamp, stamp, *values])
