"""Bulk actions of the client-list benchmark: label-add, mark-read and delete on N clients.

The clients are the members of a list ``Bench`` made here (untimed, one ``INSERT ... SELECT``)
of every k-th client so that it holds ``size`` of them (100,000 of 1,000,000 by default).
Each action goes through the project's own path: ``compile_filter("list:Bench")``,
``plan_bulk`` (checks and counts, writes nothing) and ``run_bulk`` (the set-based statements,
in one write transaction, with its audit row); both are timed, ``run_bulk`` is the figure
held against the targets (bulk ≤ 1 s, delete ≤ 5 s).
"""

from __future__ import annotations

import time
from typing import Any

import peewee as pw

from bench.clientqueries import ZONE
from store.clients.bulk import plan_bulk, run_bulk
from store.clients.query import compile_filter
from store.clients.targets import wait_for_checkpoints
from store.models import Operator

BENCH_LIST = "Bench"
ACTIONS = (("label-add", "bench-hot"), ("read", None), ("delete", None))


def _make_list(db: pw.Database, size: int) -> int:
    """The list ``Bench`` of every k-th client (``size`` of them at most); returns k."""
    total = db.execute_sql("SELECT count(*) FROM client").fetchone()[0]
    step = max(1, total // size)
    p = "%s" if isinstance(db, pw.PostgresqlDatabase) else "?"
    with db.atomic():
        db.execute_sql(f"INSERT INTO mailing_list (name) VALUES ({p})", (BENCH_LIST,))
        list_id = db.execute_sql(
            f"SELECT id FROM mailing_list WHERE name = {p}", (BENCH_LIST,)
        ).fetchone()[0]
        db.execute_sql(
            f"INSERT INTO list_membership (client_id, mailing_list_id) "
            f"SELECT id, {p} FROM client WHERE mod(id, {p}) = 0 ORDER BY id LIMIT {p}",
            (list_id, step, size),
        )
    if isinstance(db, pw.PostgresqlDatabase):
        db.execute_sql("ANALYZE list_membership")
    return step


def run(db: pw.Database, size: int) -> dict[str, Any]:
    """Time label-add, read and delete on the ``size`` clients of ``list:Bench``."""
    _make_list(db, size)
    admin = Operator.get_by_id(1)
    results: dict[str, Any] = {}
    for action, argument in ACTIONS:
        start = time.perf_counter()
        plan = plan_bulk(action, argument, compile_filter(f"list:{BENCH_LIST}", admin, ZONE), admin)
        planned = time.perf_counter()
        result = run_bulk(plan, confirmed=True)
        done = time.perf_counter()
        # SQLite: the delete's WAL goes back into the file in a thread after run_bulk returns
        # (store.clients.targets.checkpoint_in_background); how long after, reported apart.
        checkpoints = wait_for_checkpoints()
        after = (time.perf_counter() - done) * 1000 if checkpoints else None
        results[action] = {
            "clients": result.count,
            "changed": result.changed,
            "plan_ms": (planned - start) * 1000,
            "run_ms": (done - planned) * 1000,
            "checkpoint_after_ms": after,
        }
        print(
            f"  bulk {action:<10} {result.count:>9,} clients ({result.changed:,} changed): "
            f"run {(done - planned) * 1000:8.1f} ms, plan (count) {(planned - start) * 1000:.1f} ms"
            + (f", WAL checkpointed {after:.0f} ms after" if after is not None else "")
        )
    return results
