"""Importing clients from the CSV that ``store.export`` writes (F13), so that
export -> import into an empty database -> export gives the same rows (internal ids aside).

The first eleven columns are the base columns by position (``client_id`` is ignored: ids are
internal); every further column is a variable named by its header. A row whose bot and
messenger id already exist updates that client; empty cells leave that field of an existing
client as it is (an empty variable cell sets nothing). Blocks and variables named in the file
are created. The bot must be one of the configured bots.

A bad row is reported by its line number (where its record starts; the header is line 1) with
the reason, and skipped; the valid rows are kept. Rows are written in batches of
``batch_size`` (default 500), each in one write transaction with a handful of set-based
statements; if the database refuses a batch, its rows are retried one transaction each, so a
refused row never leaves half of itself behind.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Final

import peewee
from peewee import EXCLUDED

from store.clock import utcnow
from store.db import write_transaction
from store.errors import StoreError
from store.export import BASE_COLUMNS, HISTORY_SEPARATOR
from store.models import Block, BlockHistory, Bot, Client, Variable

DEFAULT_BATCH_SIZE: Final = 500
MAX_REPORTED_ERRORS: Final = 1000
# Column widths of store.models (PostgreSQL enforces them; SQLite would not).
MAX_NAME: Final = 400
MAX_MESSENGER_ID: Final = 320
MAX_TAG: Final = 200
MAX_BLOCK: Final = 200
MAX_VARIABLE_NAME: Final = 200

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


@dataclass(slots=True)
class ParsedRow:
    line: int
    bot_id: int
    messenger_id: str
    name: str | None
    created_at: dt.datetime | None
    last_action_at: dt.datetime | None
    avatar_url: str | None
    block: str | None
    history: list[str]
    tag: str | None
    variables: dict[str, str]

    @property
    def key(self) -> tuple[int, str]:
        return (self.bot_id, self.messenger_id)


def import_csv(
    stream: IO[str],
    zone: dt.tzinfo,
    *,
    bots: Collection[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportReport:
    """Import the clients of the CSV ``stream`` (opened with ``newline=""``).

    ``bots`` are the configured bot names a row may name (default: every bot in the store).
    Timestamps without an offset are taken in ``zone``. Raises ``ImportFormatError`` when the
    header is not an export's; row problems go into the returned report.
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
    batch: list[ParsedRow] = []
    keys: set[tuple[int, str]] = set()
    seen_rows = 0

    def flush() -> None:
        nonlocal seen_rows
        if batch:
            _write_batch(batch, report)
        if progress is not None and seen_rows:
            progress(seen_rows)
        batch.clear()
        keys.clear()
        seen_rows = 0

    for line, cells in _records(reader, report):
        seen_rows += 1
        try:
            row = _parse(line, cells, len(header), var_names, known, zone)
        except RowError as exc:
            report.add_error(line, str(exc))
            continue
        if row.key in keys:  # the same client twice: the later row updates the earlier one
            flush()
        batch.append(row)
        keys.add(row.key)
        if len(batch) >= batch_size:
            flush()
    flush()
    return report


def _records(reader: Any, report: ImportReport) -> Iterator[tuple[int, list[str]]]:
    """``(line where the record starts, cells)``; skips blank lines; stops at broken CSV."""
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.add_error(start, f"not valid CSV ({exc}); the rest of the file was not read")
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
    rows = sum(1 for _ in _records(reader, ImportReport()))
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


def parse_timestamp(text: str, zone: dt.tzinfo) -> dt.datetime:
    """ISO 8601 text (``2023-05-22T23:59:00+03:00``; without an offset: in ``zone``) as naive
    UTC. Raises ``RowError``."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise RowError(f"{text!r} is not an ISO 8601 date and time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    try:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    except OverflowError:  # 9999-12-31T23:59:59-05:00 is in year 10000 in UTC
        raise RowError(f"{text!r} is outside the years 1-9999 in UTC") from None


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
    for block_name in [block, *history_names]:
        _text(block_name, "block", MAX_BLOCK)
    if any(not n for n in history_names):
        raise RowError("block_history: an empty block name")
    variables = {}
    for var_name, value in zip(var_names, cells[len(BASE_COLUMNS) :], strict=True):
        if value:
            variables[var_name] = _text(value, var_name, 1_000_000)
    return ParsedRow(
        line=line,
        bot_id=bot_id,
        messenger_id=_text(mid, "messenger_id", MAX_MESSENGER_ID),
        name=_text(name, "name", MAX_NAME) or None,
        created_at=parse_timestamp(created, zone) if created else None,
        last_action_at=parse_timestamp(last, zone) if last else None,
        avatar_url=_text(avatar, "avatar_url", 100_000) or None,
        block=block or None,
        history=history_names,
        tag=_text(tag, "tag", MAX_TAG) or None,
        variables=variables,
    )


def _write_batch(rows: list[ParsedRow], report: ImportReport) -> None:
    try:
        with write_transaction():
            created, updated = _upsert(rows)
    except peewee.DatabaseError:
        # Find the rows the database refuses: each alone, in its own transaction.
        for row in rows:
            try:
                with write_transaction():
                    created, updated = _upsert([row])
            except peewee.DatabaseError as exc:
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else "refused"
                report.add_error(row.line, f"the database refused the row: {message}")
            else:
                report.created += created
                report.updated += updated
        return
    report.created += created
    report.updated += updated


def _client_ids(keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], tuple[int, ...]]:
    """``(bot_id, messenger_id) -> (id, created_at, last_action_at, name, avatar, block, tag)``
    of the existing clients among ``keys``, one query per bot."""
    by_bot: dict[int, list[str]] = {}
    for bot_id, mid in keys:
        by_bot.setdefault(bot_id, []).append(mid)
    found: dict[tuple[int, str], tuple[Any, ...]] = {}
    for bot_id, mids in by_bot.items():
        query = Client.select(
            Client.id,
            Client.messenger_id,
            Client.name,
            Client.created_at,
            Client.last_action_at,
            Client.avatar_url,
            Client.block,
            Client.tag,
        ).where((Client.bot == bot_id) & Client.messenger_id.in_(mids))
        for cid, mid, *rest in _tuples(query):
            found[(bot_id, mid)] = (cid, *rest)
    return found


def _block_ids(names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    Block.insert_many(
        [(n,) for n in sorted(names)], fields=[Block.name]
    ).on_conflict_ignore().execute()
    return dict(_tuples(Block.select(Block.name, Block.id).where(Block.name.in_(list(names)))))


def _tuples(query: Any) -> Iterator[tuple[Any, ...]]:
    return iter(query.tuples())


def _upsert(rows: list[ParsedRow]) -> tuple[int, int]:
    """Write ``rows`` (distinct clients): a few statements whatever their number."""
    now = utcnow()
    existing = _client_ids(row.key for row in rows)
    blocks = _block_ids(
        {name for row in rows for name in [*(row.history), *([row.block] if row.block else [])]}
    )
    values = []
    for row in rows:
        old = existing.get(row.key)
        # Empty cells keep what an existing client has; a new one gets the defaults.
        _, old_name, old_created, old_last, old_avatar, old_block, old_tag = old or (
            None,
            "",
            now,
            None,
            None,
            None,
            None,
        )
        created = row.created_at or old_created
        values.append(
            {
                "bot": row.bot_id,
                "messenger_id": row.messenger_id,
                "name": row.name if row.name is not None else old_name,
                "created_at": created,
                "last_action_at": row.last_action_at or old_last or created,
                "avatar_url": row.avatar_url if row.avatar_url is not None else old_avatar,
                "block": blocks[row.block] if row.block else old_block,
                "tag": row.tag if row.tag is not None else old_tag,
            }
        )
    updated_columns: list[peewee.Field] = [
        Client.name,
        Client.created_at,
        Client.last_action_at,
        Client.avatar_url,
        Client.block,
        Client.tag,
    ]
    (
        Client.insert_many(values)
        .on_conflict(
            conflict_target=[Client.bot, Client.messenger_id],
            update={col: getattr(EXCLUDED, col.column_name) for col in updated_columns},
        )
        .execute()
    )
    ids = {key: found[0] for key, found in _client_ids(row.key for row in rows).items()}
    with_history = [row for row in rows if row.history]
    if with_history:
        BlockHistory.delete().where(
            BlockHistory.client.in_([ids[row.key] for row in with_history])
        ).execute()
        history = []
        for row in with_history:
            entered = row.created_at or now
            for step, name in enumerate(row.history):
                # Keeps the file's order, which export reads back by entered_at.
                history.append(
                    (ids[row.key], blocks[name], entered + dt.timedelta(microseconds=step))
                )
        for chunk in _chunks(history, 1000):
            BlockHistory.insert_many(
                chunk, fields=[BlockHistory.client, BlockHistory.block, BlockHistory.entered_at]
            ).execute()
    variables = [
        (ids[row.key], name, value) for row in rows for name, value in row.variables.items()
    ]
    for chunk in _chunks(variables, 1000):
        (
            Variable.insert_many(chunk, fields=[Variable.client, Variable.name, Variable.value])
            .on_conflict(
                conflict_target=[Variable.client, Variable.name],
                update={Variable.value: EXCLUDED.value},
            )
            .execute()
        )
    updated = sum(1 for row in rows if row.key in existing)
    return len(rows) - updated, updated


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
