"""Admin command benchmark (issue 8): what an operator waits for, through the command layer.

    .venv/bin/python -m bench.admin                          # 200,000 clients, both databases
    .venv/bin/python -m bench.admin --clients 20000 --db sqlite --repeat 5

Builds a fresh store of generated clients (``bench.clientgen``, through the real migrations,
as ``bench.clients`` does), then times each command as ``ADMIN_COMMANDS.handle_text`` /
``handle_button`` runs it, for the admin (every client) and an operator (their own and the
free ones): the whole answer, queries and rendering, without any Telegram round trip.
Timings are wall-clock ``perf_counter`` in milliseconds, p50 and p95 of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench.clients import PG_ADMIN, _timed, build, fresh_database, percentile
from bench.pgsettings import describe
from commands.admin import ADMIN_COMMANDS, CommandContext, Reply
from config import Settings
from store.db import database_proxy, open_database
from store.migrate import migrate
from store.models import Client, Operator

ADMIN_TID, OPERATOR_TID = 5_000_001, 5_000_002  # operators 1 (admin) and 2 of clientgen
BULK = "/bulk read tab:all"  # counts and asks for Confirm: nothing is changed


def _cases(ctx: CommandContext) -> list[tuple[str, Callable[[], Reply]]]:
    listing = ADMIN_COMMANDS.handle_text(ctx, "/clients")
    data = {b.text.split(" ")[0].lstrip("• "): b.data for row in listing.buttons for b in row}
    some = Client.select(Client.id).order_by(Client.id.desc()).limit(1).scalar()
    return [
        ("/clients", lambda: ADMIN_COMMANDS.handle_text(ctx, "/clients")),
        ("/clients unanswered", lambda: ADMIN_COMMANDS.handle_text(ctx, "/clients unanswered")),
        ("/clients search:анна", lambda: ADMIN_COMMANDS.handle_text(ctx, "/clients search:анна")),
        ("tab Mine (button)", lambda: ADMIN_COMMANDS.handle_button(ctx, data["Mine"] or "")),
        ("next page (button)", lambda: ADMIN_COMMANDS.handle_button(ctx, data["Next"] or "")),
        (f"/client {some}", lambda: ADMIN_COMMANDS.handle_text(ctx, f"/client {some}")),
        ("/unread", lambda: ADMIN_COMMANDS.handle_text(ctx, "/unread")),
        (
            "/bulk read tab:all (count)",
            lambda: ADMIN_COMMANDS.handle_text(ctx, "/bulk read tab:all"),
        ),
    ]


def run_commands(repeat: int, only: list[str] | None = None) -> list[dict[str, Any]]:
    """Time each command ``repeat`` times for both viewers; ``only``: just the commands whose
    label contains one of these texts (all when None or empty)."""
    settings = Settings()
    results = []
    print(f"  {'viewer':<9} {'command':<30} {'p50 ms':>8} {'p95 ms':>8}")
    for viewer_tid in (ADMIN_TID, OPERATOR_TID):
        operator = Operator.get(Operator.telegram_id == viewer_tid)
        ctx = CommandContext(operator=operator, settings=settings)
        for label, call in _cases(ctx):
            if only and not any(text in label for text in only):
                continue
            samples = _timed(call, repeat)
            row = {
                "viewer": operator.role,
                "command": label,
                "p50": statistics.median(samples),
                "p95": percentile(samples, 95),
            }
            results.append(row)
            print(f"  {row['viewer']:<9} {label:<30} {row['p50']:>8.1f} {row['p95']:>8.1f}")
    return results


def _press(ctx: CommandContext, reply: Reply, starts: str) -> Reply:
    """Press the button of ``reply`` whose text starts with ``starts``."""
    [data] = [b.data for row in reply.buttons for b in row if b.text.startswith(starts)]
    return ADMIN_COMMANDS.handle_button(ctx, data or "")


def select_all_then_bulk(action: str = "read") -> dict[str, float]:
    """The admin's path from ``/clients`` to a bulk action on every client (issue 14 item 4):
    the list, Select clients, Select all N matching, Actions, ACTION, Confirm. Once (it
    changes the store); milliseconds per step and in all."""
    admin = Operator.get(Operator.telegram_id == ADMIN_TID)
    ctx = CommandContext(operator=admin, settings=Settings())
    steps: dict[str, float] = {}
    reply: Reply | None = None
    for button in ("/clients", "☑️ Select", "Select all", "Actions", action, "✅ Confirm"):
        start = time.perf_counter()
        if reply is None:
            reply = ADMIN_COMMANDS.handle_text(ctx, "/clients")
        else:
            reply = _press(ctx, reply, button)
        steps[button] = (time.perf_counter() - start) * 1000
    assert reply is not None and reply.text.startswith("Done"), reply
    steps["total"] = sum(steps.values())
    figures = ", ".join(f"{k} {v:.0f}" for k, v in steps.items())
    print(f"  select all, then {action} (ms): {figures}\n  ({reply.text})")
    return steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200_000, help="N (default 200,000)")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per command (10)")
    parser.add_argument("--messages", type=int, default=2, help="messages per client, mean (2)")
    parser.add_argument(
        "--sqlite-path", default=os.path.join(tempfile.gettempdir(), "sb_bench_admin.db")
    )
    parser.add_argument("--pg-admin", default=PG_ADMIN, help="DSN allowed to create databases")
    parser.add_argument("--pg-name", default="sb_bench_admin", help="the bench database")
    parser.add_argument("--reuse", action="store_true", help="keep and reuse the bench database")
    parser.add_argument(
        "--only",
        action="append",
        metavar="TEXT",
        help="time only the commands whose label contains TEXT (repeatable), e.g. search",
    )
    parser.add_argument(
        "--no-commands", dest="commands", action="store_false", help="skip the command timings"
    )
    parser.add_argument(
        "--select-all",
        action="store_true",
        help="then select every client in /clients and mark them read, once (changes the store)",
    )
    args = parser.parse_args(argv)
    for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        print(f"\n== {kind}: {args.clients:,} clients ==")
        db = open_database(fresh_database(kind, args))
        db.connect()
        try:
            if not args.reuse:
                build(db, args)
            else:
                migrate(db)  # a kept database gets the migrations added since it was built
            if kind == "postgres":
                print(f"  {describe(db)}")
            if args.commands:
                run_commands(args.repeat, args.only)
            if args.select_all:
                select_all_then_bulk()
        finally:
            db.close()
            database_proxy.initialize(None)


if __name__ == "__main__":
    main()
