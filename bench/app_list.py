"""The Mini App's client list at N clients (issue 17 item 7): server time of each list page.

    .venv/bin/python -m bench.app_list --clients 20000 --db sqlite --repeat 10
    .venv/bin/python -m bench.app_list --clients 1000000 --db both   # the issue's scale

For each database it builds a store like ``bench.keyset`` (same generator, migrations and
arguments; ``--reuse`` with ``--sqlite-path``/``--pg-name`` runs on a store built before, after
applying any newer migration), then reports p50/p95 in ms (wall-clock ``perf_counter``) of the
API handlers themselves, as ``GET /app/api/v1/clients`` runs them minus the HTTP framing:
the first page (its capped count, 30 cards, the unread counter), the five tab counts the
screen asks for beside it (``GET /clients/tabs``), the next page after its ``next_cursor``,
a page 100 pages deep after a cursor, for an admin and for an operator, over a few filters;
and a completion of the filter bar (``GET /clients/complete``) per kind of name.
Target: every page ≤ 150 ms at 1,000,000 clients.
"""

from __future__ import annotations

import argparse
import statistics
from functools import partial
from typing import cast

from bench.clients import (
    _timed,
    add_database_arguments,
    build,
    database_kinds,
    fresh_database,
    percentile,
)
from commands.app.context import ApiContext
from commands.app.endpoints.clients import (
    ClientsIn,
    ClientsOut,
    CompleteIn,
    CompleteOut,
    TabsIn,
    clients,
    clients_tabs,
    complete_filter,
)
from config import Settings
from store.db import open_database
from store.migrate import migrate
from store.models import Operator

FILTERS = ("", "unanswered", "-list:VIP", "sort:created")
COMPLETIONS = ("lab", "list:V", "label:", "stage:", "block:", "responsible:")
DEEP = 100  # pages walked (untimed) before the deep page is timed
TARGET_MS = 150.0


def _line(label: str, samples: list[float]) -> str:
    p95 = percentile(samples, 95)
    mark = "" if p95 <= TARGET_MS else "  OVER 150 ms"
    return f"{statistics.median(samples):8.1f} {p95:8.1f}  {label}{mark}"


def _page(ctx: ApiContext, params: ClientsIn) -> ClientsOut:
    return cast(ClientsOut, clients(ctx, params))


def run(repeat: int) -> None:
    settings = Settings()
    viewers = {
        "admin": Operator.get(Operator.id == 1),
        "operator": Operator.select()
        .where(Operator.role == "operator")
        .order_by(Operator.id)
        .get(),
    }
    print(f"  {'p50':>8} {'p95':>8}  (ms, server time of the handler)")
    for who, viewer in viewers.items():
        ctx = ApiContext(operator=viewer, settings=settings)
        for text in FILTERS:
            first = ClientsIn(filter=text)
            page = _page(ctx, first)
            print(
                _line(
                    f"{who} {text!r} first page ({page.count})",
                    _timed(partial(clients, ctx, first), repeat),
                )
            )
            tabs = TabsIn(filter=text)
            print(
                _line(
                    f"{who} {text!r} the five tab counts (beside the first page)",
                    _timed(partial(clients_tabs, ctx, tabs), repeat),
                )
            )
            if page.next_cursor is None:
                continue
            second = ClientsIn(
                filter=text, after=page.next_cursor, count=page.value, exact=page.exact
            )
            print(
                _line(
                    f"{who} {text!r} next page",
                    _timed(partial(clients, ctx, second), repeat),
                )
            )
            cursor: str | None = page.next_cursor
            for _ in range(DEEP):
                if cursor is None:
                    break
                cursor = _page(ctx, second.model_copy(update={"after": cursor})).next_cursor
            if cursor is not None:
                deep = second.model_copy(update={"after": cursor})
                print(
                    _line(
                        f"{who} {text!r} page {DEEP + 2} after a cursor",
                        _timed(partial(clients, ctx, deep), repeat),
                    )
                )
        for typed in COMPLETIONS:
            ask = CompleteIn(text=typed, cursor=len(typed))
            found = len(cast(CompleteOut, complete_filter(ctx, ask)).suggestions)
            print(
                _line(
                    f"{who} completion {typed!r} ({found} names)",
                    _timed(partial(complete_filter, ctx, ask), repeat),
                )
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20_000, help="N (default 20,000)")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per query (10)")
    parser.add_argument("--messages", type=int, default=1, help="messages per client, mean (1)")
    add_database_arguments(parser, "sb_app_list_bench", db="sqlite")
    parser.add_argument("--reuse", action="store_true", help="keep and reuse the bench database")
    args = parser.parse_args(argv)
    for kind in database_kinds(args):
        print(f"{kind}, {args.clients:,} clients")
        url = fresh_database(kind, args)
        db = open_database(url)
        db.connect()
        if args.reuse:
            migrate(db)
        else:
            build(db, args)
        run(args.repeat)
        db.close()


if __name__ == "__main__":
    main()
