"""Mini App dialog benchmark (issue 17): the server time of the client screen's calls on a
client with a long dialog, among many clients.

    .venv/bin/python -m bench.app_dialog                   # 100,000 clients, 100,000 messages
    .venv/bin/python -m bench.app_dialog --clients 20000 --dialog 20000 --db sqlite

For each database a fresh store through the real migrations holds N generated clients
(``bench.clientgen``) and one client whose dialog has ``--dialog`` messages (a quarter the
client's, the rest bot and operator messages and comments, a minute apart). Timed with
``perf_counter`` over ``--repeat`` calls each, as an admin (the widest scope), the functions the
endpoints call (``commands.app.client_card`` and ``commands.app.dialog``; the HTTP layer adds
its JSON and thread hop on top):

* ``card``: ``GET /clients/{id}/card?open=true`` — the full card and its menu;
* ``page``: ``GET /clients/{id}/messages`` — the newest 30 messages;
* ``page_deep``: the 30 messages before the middle of the dialog (keyset on ``created_at``, id);
* ``poll``: ``GET /clients/{id}/changes`` with nothing new — what every open dialog asks every 3 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.clients import add_database_arguments, build, database_kinds, fresh_database
from commands.admin.context import CommandContext, find_operator
from commands.app import client_card, dialog
from config import Settings
from store.clock import utcnow
from store.db import database_proxy, open_database
from store.models import Bot, Client, Message
from store.setup import bootstrap_operators

KINDS = ("client", "bot", "operator", "comment")


def _timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    runs.sort()
    return {
        "p50": round(statistics.median(runs), 2),
        "p95": round(runs[max(0, int(len(runs) * 0.95) - 1)], 2),
    }


def long_dialog(messages: int) -> int:
    """A client with ``messages`` messages, a minute apart up to now; its id."""
    bot = Bot.select().first()
    client = Client.create(bot=bot.id, messenger_id="bench-long-dialog", name="Long Dialog")
    start = utcnow() - dt.timedelta(minutes=messages)
    rows = []
    for i in range(messages):
        kind = KINDS[i % 4]
        at = start + dt.timedelta(minutes=i)
        rows.append(
            {
                "client": client.id,
                "bot": bot.id,
                "direction": "in" if kind == "client" else "out",
                "author_kind": kind,
                "text": f"message {i}",
                "status": "delivered" if kind in ("bot", "operator") else None,
                "created_at": at,
                "updated_at": at,
            }
        )
    with database_proxy.atomic():
        for offset in range(0, len(rows), 1000):
            Message.insert_many(rows[offset : offset + 1000]).execute()
    return int(client.id)


def bench_database(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    url = fresh_database(kind, args)
    db = open_database(url)
    try:
        db.connect()
        print(f"{kind}: {args.clients:,} clients, one dialog of {args.dialog:,} messages")
        build(db, args)
        client_id = long_dialog(args.dialog)
        db.execute_sql("ANALYZE")
        bootstrap_operators([(1, "admin", "Bench", None)])
        operator = find_operator(1)
        assert operator is not None
        ctx = CommandContext(operator=operator, settings=Settings())
        first = dialog.page(ctx, client_id)
        middle = Message.select(Message.id).where(Message.client == client_id)
        middle_id = middle.order_by(Message.id).offset(args.dialog // 2).first().id
        since = first["since"]
        report: dict[str, Any] = {"database": kind}
        calls: dict[str, Callable[[], Any]] = {
            "card": lambda: client_card.card(ctx, client_id, opening=True),
            "page": lambda: dialog.page(ctx, client_id),
            "page_deep": lambda: dialog.page(ctx, client_id, before=middle_id),
            "poll": lambda: dialog.changes(ctx, client_id, first["newest_id"], since, seen=True),
        }
        for name, call in calls.items():
            report[name] = _timed(call, args.repeat)
        assert len(dialog.page(ctx, client_id, before=middle_id)["messages"]) == dialog.PAGE
        print("  " + ", ".join(f"{k} {v}" for k, v in report.items()))
        return report
    finally:
        db.close()
        database_proxy.initialize(None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000, help="N (default 100,000)")
    parser.add_argument("--dialog", type=int, default=100_000, help="messages of the long dialog")
    parser.add_argument("--repeat", type=int, default=50, help="timed calls each (50)")
    parser.add_argument("--messages", type=int, default=0, help="messages per other client (0)")
    add_database_arguments(parser, "sb_app_dialog_bench")
    args = parser.parse_args(argv)
    args.reuse = False
    for kind in database_kinds(args):
        bench_database(kind, args)


if __name__ == "__main__":
    main()
