"""Campaign plan benchmark (issue 18 item 8): the whole plan of a 100,000-recipient campaign.

    .venv/bin/python -m bench.campaign                     # 100,000 clients, both databases
    .venv/bin/python -m bench.campaign --clients 20000 --db sqlite --repeat 3

For each database a fresh store through the real migrations holds N generated clients
(``bench.clientgen``: Telegram, WhatsApp and email bots, blocked and unsubscribed clients,
variables, a few messages each). One timed run is what ``switchboard campaigns create`` does
between the filter and "Campaign N scheduled", for a content with ``{first_name}`` and
``{var:Город}``: the plan per bot (``commands.plan.campaign_plan``: one grouped query), the
placeholder check (``store.campaigns.personalise.missing_placeholders``: one COUNT per
placeholder without a default) and the audience freeze (``store.campaigns.audience.launch``:
the draft, then one ``INSERT ... SELECT`` of every recipient with its skip reason, A/B variant
and slot). Wall-clock ``perf_counter``, milliseconds; p50 and worst of ``--repeat`` runs, each
a new campaign over the same clients. Target: the whole run at most 2,000 ms.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from typing import Any

from bench.clients import add_database_arguments, build, database_kinds, fresh_database
from bench.plan import BOTS
from commands.plan import campaign_plan, steps, window_since
from config import Settings
from store.campaigns import audience, model
from store.campaigns.content import CampaignContent
from store.campaigns.personalise import missing_placeholders
from store.clock import utcnow
from store.db import database_proxy, open_database, without_jit
from store.models import CampaignRecipient, Client

TARGET_MS = 2000.0
CONTENT: dict[str, Any] = {
    "text": "Привет, <b>{first_name}</b>! Скидка в городе {var:Город}.",
    "buttons": [{"text": "В магазин", "url": "https://shop.example/sale"}],
}


def one_plan(settings: Settings) -> dict[str, float]:
    """Plan, placeholder check and freeze of one new campaign to every client (ms each)."""
    clients = Client.select()
    marks = [time.perf_counter()]
    with database_proxy.atomic():  # as the CLI reads its plan: one transaction, no JIT
        without_jit()
        plan = campaign_plan(settings, clients, name="Bench", spread_s=8 * 3600.0)
        marks.append(time.perf_counter())
        content = CampaignContent.from_json(CONTENT)
        missing_placeholders(content, clients.select(Client.id))
    marks.append(time.perf_counter())
    now = utcnow()
    draft = model.create("Bench", [CONTENT, {**CONTENT, "text": "B: {first_name}"}], now=now)
    audience.launch(
        draft.id, clients, steps=steps(settings), window_since=window_since(now), now=now
    )
    marks.append(time.perf_counter())
    ms = [(b - a) * 1000 for a, b in itertools.pairwise(marks)]
    assert plan.matched > 0
    return {"plan": ms[0], "placeholders": ms[1], "freeze": ms[2], "total": sum(ms)}


def bench_database(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    url = fresh_database(kind, args)
    db = open_database(url)
    try:
        db.connect()
        print(f"{kind}: {args.clients:,} clients")
        build(db, args)
        settings = Settings.model_validate({"database_url": url, "bots": BOTS})
        campaign_plan(settings, Client.select(), name="warm-up")  # lazy imports, caches
        runs = [one_plan(settings) for _ in range(args.repeat)]
        frozen = CampaignRecipient.select().count() // args.repeat
        report: dict[str, Any] = {"database": kind, "clients": args.clients, "frozen": frozen}
        for part in ("plan", "placeholders", "freeze", "total"):
            values = [r[part] for r in runs]
            report[f"{part}_p50_ms"] = round(statistics.median(values), 1)
            report[f"{part}_max_ms"] = round(max(values), 1)
        met = report["total_p50_ms"] <= TARGET_MS
        report["target"] = f"{'met' if met else 'NOT met'} (p50 <= {TARGET_MS:.0f} ms)"
        print("  " + ", ".join(f"{k} {v}" for k, v in report.items()))
        return report
    finally:
        db.close()
        database_proxy.initialize(None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000, help="N (default 100,000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (5)")
    parser.add_argument("--messages", type=int, default=2, help="messages per client, mean (2)")
    add_database_arguments(parser, "sb_campaign_bench")
    args = parser.parse_args(argv)
    args.reuse = False
    for kind in database_kinds(args):
        bench_database(kind, args)


if __name__ == "__main__":
    main()
