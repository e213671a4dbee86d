"""CPU per update of the ingest's store path alone (issue 14 item 7).

    .venv/bin/python -m bench.ingest_store                    # 20,000 updates, batches of 40
    .venv/bin/python -m bench.ingest_store --updates 50000 --batch 100 --db sqlite
    .venv/bin/python -m bench.ingest_store --db postgres --pg-admin postgresql://postgres@127.0.0.1:55432/postgres
    .venv/bin/python -m bench.ingest_store --db postgres --statements   # wall time per statement

The updates of ``bench.ingest`` (500 users, one in ten a ``/start`` deep link, one in twenty
a photo), parsed as the webhook parses them, are written by ``record_inbound_many`` in
batches of ``--batch`` (what the group-commit writer hands it with 40 connections waiting)
on a fresh, migrated store, after 2,000 for warm-up (then ``ANALYZE`` on PostgreSQL, as
``bench.ingest``). It reports this process's CPU time per update (user + system: the figure
the machine's load does not change much) and the wall time; the PostgreSQL server's own work
is in the wall time only. ``--statements`` also times each statement of the timed batches and
the commit (wall clock around the driver call: the round trip, the server's work and the
driver's), per batch, largest first.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import peewee

from bench.ingest import PG_ADMIN, make_updates, store_url
from bots.telegram.updates import parse_update
from store.db import open_database
from store.inbound import record_inbound_many
from store.migrate import migrate
from store.models import Bot

WARM_UP = 2000


@contextmanager
def statement_times(database: peewee.Database) -> Iterator[dict[str, list[float]]]:
    """Wall seconds of each statement (by its first 70 characters) and of ``COMMIT`` while
    inside, by wrapping the database object's ``execute_sql`` and ``commit``."""
    times: dict[str, list[float]] = defaultdict(list)

    def timed(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                key = name or " ".join(str(args[0]).split())[:70]
                times[key].append(time.perf_counter() - started)

        return run

    execute_sql, commit = database.execute_sql, database.commit
    database.execute_sql = timed("", execute_sql)  # type: ignore[method-assign]
    database.commit = timed("COMMIT", commit)  # type: ignore[method-assign]
    try:
        yield times
    finally:
        database.execute_sql = execute_sql  # type: ignore[method-assign]
        database.commit = commit  # type: ignore[method-assign]


def bench_kind(
    kind: str, updates: int, batch: int, pg_admin: str = PG_ADMIN, statements: bool = False
) -> None:
    with tempfile.TemporaryDirectory() as tmp, store_url(kind, Path(tmp), pg_admin) as url:
        database = open_database(url)
        try:
            migrate(database)
            Bot.create(name="tg", kind="telegram")
            bodies = make_updates(WARM_UP + updates, 500)
            events = [parse_update("tg", json.loads(body)) for body in bodies]
            stored = [parsed.event for parsed in events if parsed is not None]
            for start in range(0, WARM_UP, batch):
                record_inbound_many(stored[start : min(start + batch, WARM_UP)])
            if kind == "postgres":  # as bench.ingest: statistics, as autovacuum gives them
                database.execute_sql("ANALYZE")
            timed = stored[WARM_UP:]
            no_times: dict[str, list[float]] = {}
            timing = statement_times(database) if statements else nullcontext(no_times)
            with timing as times:
                cpu, wall = time.process_time(), time.perf_counter()
                for start in range(0, len(timed), batch):
                    record_inbound_many(timed[start : start + batch])
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            database.close()
    print(
        f"{kind:<8} {len(timed):,} updates in batches of {batch}: "
        f"CPU {cpu / len(timed) * 1e6:5.0f} us/update, wall {wall / len(timed) * 1e6:5.0f} "
        "us/update",
        flush=True,
    )
    batches = -(-len(timed) // batch)
    for key, spent in sorted(times.items(), key=lambda item: -sum(item[1])):
        per_batch = len(spent) / batches
        print(f"  {sum(spent) / batches * 1e3:6.3f} ms/batch  {per_batch:4.2f} per batch  {key}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="CPU per update of the ingest store path")
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-admin", default=PG_ADMIN, help="DSN allowed to create databases")
    parser.add_argument("--statements", action="store_true", help="wall time per statement")
    args = parser.parse_args(argv)
    for kind in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        bench_kind(kind, args.updates, args.batch, args.pg_admin, args.statements)


if __name__ == "__main__":
    main()
