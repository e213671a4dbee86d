"""Campaign content benchmark (issue 18 items 1 and 8): the plan's placeholder check over a
100,000-client audience, and rendering a batch of outbox rows.

    .venv/bin/python -m bench.campaign_content                   # 100,000 clients, both databases
    .venv/bin/python -m bench.campaign_content --clients 20000 --db sqlite --repeat 3

For each database a fresh store through the real migrations holds N generated clients
(``bench.clientgen``: names, ~1.7 variables each, ``Город`` among them). Reported, wall-clock
``perf_counter`` in milliseconds, p50 and worst of ``--repeat`` runs:

* ``check``: ``missing_placeholders`` of a content using ``{first_name}``, ``{var:Город}`` and
  ``{var:Размер}`` (no defaults) over every client: one COUNT per placeholder;
* ``batch``: one batch of ``--batch`` recipients as the campaign sender prepares it —
  ``fields_for`` (two statements) and ``render`` per client for Telegram (HTML-escaped) — and
  the rows per second that makes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from bench.clients import add_database_arguments, build, database_kinds, fresh_database
from store.campaigns.content import CampaignContent, Media, UrlButton, render
from store.campaigns.personalise import fields_for, missing_placeholders
from store.db import database_proxy, open_database
from store.models import Client

CONTENT = CampaignContent(
    text="<b>{first_name}</b>, скидка 20% в {var:Город} на размер {var:Размер}!",
    media=Media("photo", url="https://cdn.example/sale.jpg"),
    buttons=(UrlButton("Купить", "https://shop.example/?city={var:Город}"),),
)


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
        audience = Client.select(Client.id)
        missing_placeholders(CONTENT, audience)  # warm-up
        checks = [_ms(lambda: missing_placeholders(CONTENT, audience)) for _ in range(args.repeat)]
        ids = [c.id for c in Client.select(Client.id).order_by(Client.id).limit(args.batch)]

        def batch() -> int:
            fields = fields_for(ids, CONTENT)
            return len([render(CONTENT, fields[i], "telegram") for i in ids])

        batch()
        batches = [_ms(batch)[0] for _ in range(args.repeat)]
        report = {
            "database": kind,
            "clients": args.clients,
            "check_p50_ms": round(statistics.median(t for t, _ in checks), 1),
            "check_max_ms": round(max(t for t, _ in checks), 1),
            "missing": {m.placeholder: m.clients for m in checks[0][1]},
            "batch": len(ids),
            "batch_p50_ms": round(statistics.median(batches), 1),
            "rows_per_s": round(len(ids) / (statistics.median(batches) / 1000)),
        }
        print("  " + ", ".join(f"{k} {v}" for k, v in report.items()))
        return report
    finally:
        db.close()
        database_proxy.initialize(None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000, help="N (default 100,000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (5)")
    parser.add_argument("--batch", type=int, default=2000, help="recipients per batch (2,000)")
    parser.add_argument("--messages", type=int, default=0, help="messages per client, mean (0)")
    add_database_arguments(parser, "sb_content_bench")
    args = parser.parse_args(argv)
    args.reuse = False
    for kind in database_kinds(args):
        bench_database(kind, args)


if __name__ == "__main__":
    main()
