"""Broadcast plan benchmark (issue 12 item 7): the plan and the job at N clients.

    .venv/bin/python -m bench.plan                      # 100,000 clients, both databases
    .venv/bin/python -m bench.plan --clients 20000 --db sqlite --repeat 3

For each database a fresh store through the real migrations holds N generated clients
(``bench.clientgen``: three bots — Telegram, WhatsApp, email — blocked and unsubscribed
clients, a few messages each). Reported, wall-clock ``perf_counter`` in milliseconds: the plan
of a broadcast to every client (``commands.plan.broadcast_plan``: one grouped query with the
WhatsApp window as a correlated ``EXISTS``), p50 and worst of ``--repeat`` runs; the plan of a
broadcast to one mailing list; and the job itself (``commands.plan.start_broadcast``: one
``INSERT ... SELECT`` of every row, WhatsApp's template decided per row), once.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from bench.clients import add_database_arguments, build, database_kinds, fresh_database
from commands.plan import broadcast_plan, start_broadcast
from config import Settings
from store.db import database_proxy, open_database
from store.models import Client, ListMembership, Message

BOTS: list[dict[str, Any]] = [
    {"name": "shop_tg", "kind": "telegram", "token": "1:bench"},
    {
        "name": "shop_wa",
        "kind": "whatsapp",
        "phone_number_id": "1",
        "access_token": "t",
        "app_secret": "s",
        "verify_token": "v",
    },
    {"name": "support_mail", "kind": "email", "enabled": False},
]


def _ms(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def bench_database(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    url = fresh_database(kind, args)
    db = open_database(url)
    try:
        db.connect()
        print(f"{kind}: {args.clients:,} clients")
        build(db, args)
        settings = Settings.model_validate({"database_url": url, "bots": BOTS})
        everyone = Client.select()
        broadcast_plan(settings, everyone)  # warm-up: lazy imports, caches
        runs = [_ms(lambda: broadcast_plan(settings, everyone))[0] for _ in range(args.repeat)]
        plan = broadcast_plan(settings, everyone)
        one_list = Client.select().where(
            Client.id.in_(
                ListMembership.select(ListMembership.client).where(ListMembership.mailing_list == 1)
            )
        )
        list_ms, list_plan = _ms(lambda: broadcast_plan(settings, one_list))
        job_ms, job = _ms(lambda: start_broadcast(settings, everyone, "Bench: sale today"))
        rows = Message.select().where(Message.job == job.id).count()
        report = {
            "database": kind,
            "clients": args.clients,
            "plan_p50_ms": round(statistics.median(runs), 1),
            "plan_max_ms": round(max(runs), 1),
            "recipients": plan.recipients,
            "outside_window": plan.outside_window,
            "list_plan_ms": round(list_ms, 1),
            "list_recipients": list_plan.recipients,
            "job_ms": round(job_ms, 1),
            "job_rows": rows,
        }
        print("  " + ", ".join(f"{k} {v}" for k, v in report.items()))
        return report
    finally:
        db.close()
        database_proxy.initialize(None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000, help="N (default 100,000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed plans (5)")
    parser.add_argument("--messages", type=int, default=2, help="messages per client, mean (2)")
    add_database_arguments(parser, "sb_plan_bench")
    args = parser.parse_args(argv)
    args.reuse = False
    for kind in database_kinds(args):
        bench_database(kind, args)


if __name__ == "__main__":
    main()
