"""Capped counts and keyset pages of the client list (issue 14 items 1-2) at N clients.

    .venv/bin/python -m bench.keyset --clients 20000 --db sqlite --repeat 10
    .venv/bin/python -m bench.keyset --clients 1000000 --db both   # the issue's scale

For each database it builds a fresh store like ``bench.clients`` (same generator and
migrations), then reports p50/p95 in ms (wall-clock ``perf_counter``) of:

- the exact count (``count_clients``) against the capped one (``count_capped``, at most
  ``COUNT_CAP + 1`` rows read) for a few filters;
- the five ``/clients`` tab counts: the former single ``SUM(CASE ...)`` scan of every match
  against the five bounded subqueries (``capped_counts``);
- a page of 50 at a depth (page 1, 20, 200) by offset against the same page after a cursor
  (the cursor is taken once, untimed, from the client before the page).
"""

from __future__ import annotations

import argparse
import statistics
from functools import partial
from typing import Any

import peewee as pw

from bench.clientqueries import ZONE
from bench.clients import (
    _timed,
    add_database_arguments,
    build,
    database_kinds,
    fresh_database,
    percentile,
)
from store.clients.query import (
    COUNT_CAP,
    capped_counts,
    compile_filter,
    count_capped,
    count_clients,
    cursor_of,
    order_clients,
    page_clients,
    select_clients,
)
from store.db import open_database
from store.filters.registry import TABS
from store.filters.sql import CLIENT_ID, tab
from store.models import Operator

FILTERS = ("", "unanswered", "-list:VIP", "sort:created")
DEPTHS = (1, 20, 200)  # pages of 50
PER_PAGE = 50


def _line(label: str, samples: list[float]) -> str:
    return f"{statistics.median(samples):8.1f} {percentile(samples, 95):8.1f}  {label}"


def run(url: str, repeat: int) -> None:
    admin = Operator.get(Operator.id == 1)
    print(f"  {'p50':>8} {'p95':>8}  (ms; COUNT_CAP={COUNT_CAP:,})")
    for text in FILTERS:
        flt = compile_filter(text, admin, ZONE)
        exact = count_clients(flt, admin)
        print(
            _line(
                f"exact count {text!r}: {exact:,}",
                _timed(partial(count_clients, flt, admin), repeat),
            )
        )
        capped = count_capped(flt, admin)
        print(
            _line(
                f"capped count {text!r}: {capped}",
                _timed(partial(count_capped, flt, admin), repeat),
            )
        )
    flt = compile_filter("", admin, ZONE)

    def old_tabs() -> Any:
        def count_if(cond: pw.ColumnBase | None) -> Any:
            if cond is None:
                return pw.fn.COUNT(CLIENT_ID)
            return pw.fn.COALESCE(pw.fn.SUM(pw.Case(None, [(cond, 1)], 0)), 0)

        fields = [count_if(tab(name, admin.id)).alias(name) for name in TABS]
        return select_clients(flt, admin, *fields).dicts().get()

    def new_tabs() -> Any:
        queries = {}
        for name in TABS:
            query = select_clients(flt, admin, pw.SQL("1"))
            cond = tab(name, admin.id)
            queries[name] = query if cond is None else query.where(cond)
        return capped_counts(queries)

    print(_line("tab counts, one scan of every match (before)", _timed(old_tabs, repeat)))
    print(_line("tab counts, five bounded subqueries (now)", _timed(new_tabs, repeat)))
    count = count_capped(flt, admin)
    total = count_clients(flt, admin)
    for depth in DEPTHS:
        offset = (depth - 1) * PER_PAGE
        if offset >= total:
            break  # a small run: no page this deep
        by_offset = _timed(
            partial(page_clients, flt, admin, page=depth, per_page=PER_PAGE, count=count),
            repeat,
        )
        print(_line(f"page {depth} by offset", by_offset))
        if depth == 1:
            continue
        before = order_clients(select_clients(flt, admin), flt).offset(offset - 1).limit(1).get()
        after = cursor_of(before, flt.sort).encode()
        by_cursor = _timed(
            partial(page_clients, flt, admin, per_page=PER_PAGE, after=after, count=count),
            repeat,
        )
        print(_line(f"page {depth} after a cursor", by_cursor))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20_000, help="N (default 20,000)")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per query (10)")
    parser.add_argument("--messages", type=int, default=1, help="messages per client, mean (1)")
    add_database_arguments(parser, "sb_keyset_bench", db="sqlite")
    parser.add_argument("--reuse", action="store_true", help="keep and reuse the bench database")
    args = parser.parse_args(argv)
    for kind in database_kinds(args):
        print(f"{kind}, {args.clients:,} clients")
        url = fresh_database(kind, args)
        db = open_database(url)
        db.connect()
        if not args.reuse:
            build(db, args)
        run(url, args.repeat)
        db.close()


if __name__ == "__main__":
    main()
