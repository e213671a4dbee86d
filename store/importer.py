"""Importing clients from the CSV that ``store.export`` writes (F13), so that
export -> import into an empty database -> export gives the same rows (internal ids aside).

The first eleven columns are the base columns by position (``client_id`` is ignored: ids are
internal); every further column is a variable named by its header. A row whose bot and
messenger id already exist updates that client; empty cells leave that field of an existing
client as it is (an empty variable cell sets nothing). Blocks and variables named in the file
are created. The bot must be one of the configured bots.

A bad row is reported by its line number (where its record starts; the header is line 1) with
the reason, and skipped; the valid rows are kept. Rows are written in batches of
``batch_size`` (default 20,000), each in one write transaction: staged in temporary tables,
then a handful of set-based statements (``store.import_batch``); if the database refuses a
batch, it is halved down to the rows it refuses, each piece its own transaction, so a
refused row never leaves half of itself behind. On SQLite the new clients enter the search
index at the end, set-based (``store.clients.search_index.catch_up``): until then a search
does not find them.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Final

import peewee

from store import deferred_indexes
from store.clients.search_index import catch_up
from store.clock import utcnow
from store.db import is_postgres, write_transaction
from store.errors import StoreError
from store.export import BASE_COLUMNS, HISTORY_SEPARATOR
from store.import_batch import StagedClient as ParsedRow
from store.import_batch import Stager, Statistics, write_staged
from store.models import Bot, Client
from store.read_ahead import read_ahead

DEFAULT_BATCH_SIZE: Final = 20_000
MAX_REPORTED_ERRORS: Final = 1000
# Column widths of store.models (PostgreSQL enforces them; SQLite would not).
MAX_NAME: Final = 400
MAX_MESSENGER_ID: Final = 320
MAX_TAG: Final = 200
MAX_BLOCK: Final = 200
MAX_VARIABLE_NAME: Final = 200
MAX_SHORTEST: Final = min(MAX_NAME, MAX_MESSENGER_ID, MAX_TAG, MAX_BLOCK)
# An import of at least this many rows into a store holding under a quarter as many clients
# builds the secondary indexes at its end (store.deferred_indexes): one sort of the table
# instead of an index entry per row.
DEFER_MIN_ROWS: Final = 50_000
DEFER_RATIO: Final = 4
# Connections rebuilding the deferred indexes at the end of an import (PostgreSQL): two cut
# the builds of a million-client store from 24.5-27.4 to 18.6-20.1 s (load average 5).
RESTORE_WORKERS: Final = 2

Progress = Callable[[int], None]
"""Called after each batch with the number of data rows it covered (good and bad)."""


class ImportFormatError(StoreError):
    """The file is not a client export at all (bad header, not CSV): nothing was imported."""


class RowError(ValueError):
    """One row cannot be imported; ``str()`` is the reason."""


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(slots=True)
class ImportReport:
    """What an import did. ``errors`` keeps the first 1,000; ``error_count`` counts them all."""

    created: int = 0
    updated: int = 0
    error_count: int = 0
    errors: list[LineError] = field(default_factory=list)

    def add_error(self, line: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(LineError(line, reason))


def import_csv(
    stream: IO[str],
    zone: dt.tzinfo,
    *,
    bots: Collection[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    rows: int | None = None,
    defer_indexes: bool | None = None,
) -> ImportReport:
    """Import the clients of the CSV ``stream`` (opened with ``newline=""``).

    ``bots`` are the configured bot names a row may name (default: every bot in the store).
    Timestamps without an offset are taken in ``zone``. Raises ``ImportFormatError`` when the
    header is not an export's; row problems go into the returned report. ``rows``: the file's
    data rows (``count_rows``), if known; ``defer_indexes``: build the secondary indexes at
    the end (default: when ``rows`` is big next to the store, ``DEFER_MIN_ROWS``).
    """
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFormatError("the file is empty (expected a header line)") from None
    except csv.Error as exc:
        raise ImportFormatError(f"line 1: not valid CSV ({exc})") from None
    var_names = _check_header(header)
    known = _known_bots(bots)
    report = ImportReport()
    statistics = Statistics()
    if defer_indexes is None:
        defer_indexes = _worth_deferring(rows)
    if defer_indexes:
        deferred_indexes.defer()
    else:  # a killed import's, before this one's statements need them
        deferred_indexes.restore()
    try:
        parsed = _batches(reader, len(header), var_names, known, zone, batch_size, is_postgres())
        for batch in read_ahead(parsed):
            if batch.rows:
                _write_batch(batch.rows, report, statistics, batch.errors, defer_indexes)
            # The batch's errors in line order, whichever step found them.
            for error in sorted(batch.errors, key=lambda e: e.line):
                report.add_error(error.line, error.reason)
            if progress is not None and batch.seen:
                progress(batch.seen)
        # The new clients into the search index (SQLite), with any a crashed import left.
        catch_up()
    finally:
        deferred_indexes.restore(workers=RESTORE_WORKERS)
    return report


def _worth_deferring(rows: int | None) -> bool:
    if rows is None or rows < DEFER_MIN_ROWS:
        return False
    return Client.select().count() * DEFER_RATIO < rows


@dataclass(slots=True)
class _Batch:
    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)  # of the lines it covers
    seen: int = 0  # data rows read for it, good and bad


def _batches(
    reader: Any,
    width: int,
    var_names: list[str],
    known: dict[str, tuple[int, str]],
    zone: dt.tzinfo,
    batch_size: int,
    pg: bool,
) -> Iterator[_Batch]:
    """The file's rows parsed, in batches of distinct clients (the same client twice: the
    later row goes into the next batch, so it updates the earlier one)."""
    batch = _Batch()
    keys: set[tuple[int, str]] = set()
    broken: list[LineError] = []  # where the CSV broke: reading stopped there
    stager = Stager(pg)
    for line, cells in _records(reader, broken):
        batch.seen += 1
        try:
            row = _parse(line, cells, width, var_names, known, zone, stager)
        except RowError as exc:
            batch.errors.append(LineError(line, str(exc)))
            continue
        key = row.key
        if key in keys or len(batch.rows) >= batch_size:
            yield batch
            batch = _Batch()
            keys.clear()
        batch.rows.append(row)
        keys.add(key)
    batch.errors.extend(broken)
    yield batch


def _records(reader: Any, errors: list[LineError]) -> Iterator[tuple[int, list[str]]]:
    """``(line where the record starts, cells)``; skips blank lines; stops at broken CSV."""
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = f"not valid CSV ({exc}); the rest of the file was not read"
            errors.append(LineError(start, reason))
            return
        if cells:
            yield start, cells


def count_rows(stream: IO[str]) -> int:
    """The data rows of an export's CSV ``stream`` as the import will read them (records after
    the header, blank lines skipped, up to a broken record), for the plan shown before an
    import; the stream is left at its start. ``ImportFormatError`` for a header that is not
    an export's, as ``import_csv`` raises it."""
    reader = csv.reader(stream)
    try:
        _check_header(next(reader))
    except StopIteration:
        raise ImportFormatError("the file is empty (expected a header line)") from None
    except csv.Error as exc:
        raise ImportFormatError(f"line 1: not valid CSV ({exc})") from None
    rows = sum(1 for _ in _records(reader, []))
    stream.seek(0)
    return rows


def _check_header(header: list[str]) -> list[str]:
    got = [h.strip().lower() for h in header[: len(BASE_COLUMNS)]]
    if got != list(BASE_COLUMNS):
        raise ImportFormatError(
            "line 1: not a client export: the first columns must be " + ",".join(BASE_COLUMNS)
        )
    names = header[len(BASE_COLUMNS) :]
    seen: set[str] = set()
    for position, name in enumerate(names, start=len(BASE_COLUMNS) + 1):
        if not name:
            raise ImportFormatError(f"line 1: column {position} has no variable name")
        if len(name) > MAX_VARIABLE_NAME:
            raise ImportFormatError(
                f"line 1: column {position}: a variable name is at most "
                f"{MAX_VARIABLE_NAME} characters"
            )
        if "\x00" in name:
            raise ImportFormatError(f"line 1: column {position}: NUL character in the name")
        if name in seen:
            raise ImportFormatError(f"line 1: variable column {name!r} appears twice")
        seen.add(name)
    return names


def _known_bots(names: Collection[str] | None) -> dict[str, tuple[int, str]]:
    query = Bot.select(Bot.id, Bot.name, Bot.kind)
    if names is not None:
        query = query.where(Bot.name.in_(list(names)))
    return {bot.name: (bot.id, bot.kind) for bot in query}


# The offsets met so far ("+03:00" as the export writes them, after a valid timestamp), so
# the usual cell is read as a naive time minus a known offset: 1.5 us instead of 3.5.
_OFFSETS: dict[str, dt.timedelta] = {}


def parse_timestamp(text: str, zone: dt.tzinfo) -> dt.datetime:
    """ISO 8601 text (``2023-05-22T23:59:00+03:00``; without an offset: in ``zone``) as naive
    UTC. Raises ``RowError``."""
    if len(text) == 25 and text[19] in "+-":
        offset = _OFFSETS.get(text[19:])
        if offset is not None:
            try:
                return dt.datetime.fromisoformat(text[:19]) - offset
            except (ValueError, OverflowError):
                pass  # the whole text again, below, for the reason
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise RowError(f"{text!r} is not an ISO 8601 date and time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    offset = value.utcoffset() or dt.timedelta(0)
    try:  # what astimezone(UTC) computes, at a third of its cost
        utc = value.replace(tzinfo=None) - offset
    except OverflowError:  # 9999-12-31T23:59:59-05:00 is in year 10000 in UTC
        raise RowError(f"{text!r} is outside the years 1-9999 in UTC") from None
    if len(text) == 25 and text[19] in "+-":
        _OFFSETS[text[19:]] = offset
    return utc


def _text(value: str, column: str, limit: int) -> str:
    if "\x00" in value:
        raise RowError(f"{column}: NUL character")
    if len(value) > limit:
        raise RowError(f"{column}: longer than {limit} characters")
    return value


def _parse(
    line: int,
    cells: list[str],
    width: int,
    var_names: list[str],
    bots: dict[str, tuple[int, str]],
    zone: dt.tzinfo,
    stager: Stager,
) -> ParsedRow:
    if len(cells) != width:
        raise RowError(f"{len(cells)} fields, the header has {width}")
    _, name, messenger, bot_name, mid, created, last, avatar, block, history, tag = cells[
        : len(BASE_COLUMNS)
    ]
    if not bot_name:
        raise RowError("bot is empty")
    if bot_name not in bots:
        known = ", ".join(sorted(bots)) or "none"
        raise RowError(f"bot {bot_name!r} is not a configured bot (configured: {known})")
    bot_id, kind = bots[bot_name]
    if messenger and messenger != kind:
        raise RowError(f"messenger {messenger!r} does not match bot {bot_name!r} ({kind})")
    if not mid.strip():
        raise RowError("messenger_id is empty")
    history_names = history.split(HISTORY_SEPARATOR) if history else []
    if "\x00" not in "".join(cells) and max(map(len, cells)) <= MAX_SHORTEST:
        # The usual row: no NUL and no cell beyond the smallest limit, so no check can fail
        # (one pass in C instead of a check per cell).
        if "" in history_names:
            raise RowError("block_history: an empty block name")
        return stager.row(
            line,
            bot_id,
            mid,
            name or None,
            parse_timestamp(created, zone) if created else None,
            parse_timestamp(last, zone) if last else None,
            avatar or None,
            block or None,
            tag or None,
            history_names,
            [
                (bot_id, mid, n, v)
                for n, v in zip(var_names, cells[len(BASE_COLUMNS) :], strict=True)
                if v
            ],
        )
    for block_name in [block, *history_names]:
        _text(block_name, "block", MAX_BLOCK)
    if any(not n for n in history_names):
        raise RowError("block_history: an empty block name")
    # The checks in the order they report: blocks, variables, then the columns left to right.
    variables = [
        (bot_id, mid, var_name, _text(value, var_name, 1_000_000))
        for var_name, value in zip(var_names, cells[len(BASE_COLUMNS) :], strict=True)
        if value
    ]
    return stager.row(
        line,
        bot_id,
        _text(mid, "messenger_id", MAX_MESSENGER_ID),
        _text(name, "name", MAX_NAME) or None,
        parse_timestamp(created, zone) if created else None,
        parse_timestamp(last, zone) if last else None,
        _text(avatar, "avatar_url", 100_000) or None,
        block or None,
        _text(tag, "tag", MAX_TAG) or None,
        history_names,
        variables,
    )


def _write_batch(
    rows: list[ParsedRow],
    report: ImportReport,
    statistics: Statistics,
    errors: list[LineError],
    deferring: bool,
) -> None:
    """Write ``rows`` in one transaction; if the database refuses it, halve it down to the
    rows it refuses (each piece its own transaction, each refused row into ``errors``), so a
    refused row leaves nothing of itself and every other row is written."""
    try:
        with write_transaction():
            if deferring:  # the tick leaves the indexes to this import while it writes
                deferred_indexes.touch()
            created, updated = write_staged(rows, utcnow(), statistics)
    except peewee.DatabaseError as exc:
        if len(rows) == 1:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else "refused"
            errors.append(LineError(rows[0].line, f"the database refused the row: {message}"))
            return
        middle = len(rows) // 2
        _write_batch(rows[:middle], report, statistics, errors, deferring)
        _write_batch(rows[middle:], report, statistics, errors, deferring)
        return
    report.created += created
    report.updated += updated
