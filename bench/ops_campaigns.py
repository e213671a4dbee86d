"""/ops Campaigns benchmark (issue 18 item 5): reading one 100,000-recipient campaign's row.

    .venv/bin/python -m bench.ops_campaigns                 # 100,000 clients, both databases
    .venv/bin/python -m bench.ops_campaigns --clients 20000 --db sqlite

For each database a fresh store holds N generated clients (``bench.clientgen``); one campaign
to all of them is launched (audience frozen) and enqueued through ``store.campaigns.send``
(the real path, 2,000 rows a batch), then every outbox row is marked sent in one UPDATE and the
recipients take the outcomes in one more (``store.campaigns.outcomes.follow``, which the
sender runs per row as it writes each outcome). Reported, wall-clock ``perf_counter`` in
milliseconds: ``commands.ops_campaigns.campaign_lines`` — what the /ops page reads per
campaign (``store.campaigns.results``: one grouped query with the 24-hour reply and block
lookups; a pure read) — ``1 + --repeat`` times, each a new moment so none reuses the last.
Then the send path's share (``--sends``, 300): ``store.outbox.mark_sent`` p50 of that many
campaign rows put back to ``sending`` (each recipient takes the outcome in the same
transaction) and of as many ordinary rows (no recipient: no statement more).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from typing import Any

from bench.clients import add_database_arguments, build, database_kinds, fresh_database
from commands.ops_campaigns import campaign_lines
from store import outbox
from store.campaigns import audience, model
from store.campaigns.outcomes import follow
from store.campaigns.send import enqueue_due
from store.clock import utcnow
from store.db import database_proxy, open_database
from store.models import Bot, CampaignRecipient, Client, Message

CONTENT = {"text": "Hi {first_name|friend}", "template": {"name": "sale"}}


def bench_database(kind: str, args: argparse.Namespace) -> None:
    url = fresh_database(kind, args)
    db = open_database(url)
    try:
        db.connect()
        print(f"{kind}: {args.clients:,} clients")
        build(db, args)
        now = utcnow()
        since = now - dt.timedelta(hours=24)
        draft = model.create("bench", [CONTENT], now=now)
        steps = {b.id: 0.0 for b in Bot.select()}
        launched = audience.launch(draft.id, Client.select(), steps=steps, window_since=since)
        start = time.perf_counter()
        while enqueue_due(model.get(launched.id), 1e9, window_since=since, now=now):
            pass
        enqueued = time.perf_counter() - start
        rows = Message.update(status="sent").where(Message.direction == "out").execute()
        with database_proxy.atomic():
            follow(Message.direction == "out")
        runs = []
        for n in range(1 + args.repeat):
            start = time.perf_counter()
            # A moment past the last read's RESULTS_FRESH_S: every read counts.
            (line,) = campaign_lines(now=now + dt.timedelta(minutes=n + 1))
            runs.append(round((time.perf_counter() - start) * 1000))
        print(
            f"  enqueued {rows:,} rows in {enqueued:.1f} s; /ops row ({line.result.sent:,} "
            f"sent): {runs} ms"
        )
        print(f"  mark_sent p50: {send_path(args.sends)}")
    finally:
        db.close()
        database_proxy.initialize(None)


def _mark_sent_p50_ms(ids: list[int], tag: str) -> float:
    Message.update(status="sending").where(Message.id.in_(ids)).execute()
    runs = []
    for row_id in ids:
        start = time.perf_counter()
        outbox.mark_sent(row_id, f"{tag}-{row_id}")
        runs.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(runs), 2)


def send_path(n: int) -> str:
    """``mark_sent``'s p50 for ``n`` campaign rows (their recipients put back to queued) and
    ``n`` ordinary rows, in ms."""
    CR: Any = CampaignRecipient
    campaign_rows = [
        m.id for m in Message.select(Message.id).where(Message.direction == "out").limit(n)
    ]
    CR.update(status="queued").where(CR.message_id.in_(campaign_rows)).execute()
    clients = [c.id for c in Client.select(Client.id).order_by(Client.id).limit(n)]
    plain = [outbox.enqueue(client_id, "hello").id for client_id in clients]
    campaign_ms = _mark_sent_p50_ms(campaign_rows, "again")
    settled = CR.select().where(CR.message_id.in_(campaign_rows) & (CR.status == "sent")).count()
    assert settled == len(campaign_rows)
    return f"campaign rows {campaign_ms} ms, ordinary rows {_mark_sent_p50_ms(plain, 'plain')} ms"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000, help="N (default 100,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed reads after the first (3)")
    parser.add_argument("--messages", type=int, default=0, help="messages per client, mean (0)")
    parser.add_argument("--sends", type=int, default=300, help="timed mark_sent calls (300)")
    add_database_arguments(parser, "sb_ops_campaigns")
    args = parser.parse_args(argv)
    args.reuse = False
    for kind in database_kinds(args):
        bench_database(kind, args)


if __name__ == "__main__":
    main()
