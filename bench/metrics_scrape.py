"""What one Prometheus scrape of ``/metrics`` costs (issue 13 item 6), per broker.

    .venv/bin/python -m bench.metrics_scrape --bots 3 --rows 1000 --repeat 50

Builds a fresh SQLite store in a temporary directory with ``--rows`` queued outbound
messages due tomorrow (the outbox gauges read them; no worker sends them meanwhile), serves
``serve``'s application (delivery engine and ops, no channels) on a loopback port with
``--bots`` configured Telegram bots, and reports
p50/p95 in ms (wall clock, ``perf_counter``) of ``GET /metrics`` and the body's size, for
``memory://`` and for ``redis://`` (``--redis``, default the local Redis, in a namespace of
its own that is deleted afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import secrets
import statistics
import tempfile
import time

import aiohttp
import redis

from bench.clients import percentile
from commands.delivery import install_delivery
from commands.ops import install_ops
from commands.web import build_app
from config import Settings
from emulators.loopback import served
from store import outbox
from store.clock import utcnow
from store.inbound import get_or_create_client
from store.migrate import migrate
from store.models import Bot, Message
from store.runtime import open_store
from store.setup import sync_bots

TOKEN = "bench-ops-token"


def _settings(database_url: str, broker_url: str, namespace: str, bots: int) -> Settings:
    configured = [
        {"name": f"tg{i}", "kind": "telegram", "token": f"{100000 + i}:bench"} for i in range(bots)
    ]
    return Settings.model_validate(
        {
            "database_url": database_url,
            "broker_url": broker_url,
            "ops_token": TOKEN,
            "bots": configured,
            "delivery": {"namespace": namespace},
        }
    )


async def timed_gets(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], repeat: int
) -> tuple[list[float], int]:
    """``repeat`` timed GETs of ``url`` (seconds each) after one that warms up, and the last
    body's size in bytes; every answer must be 200."""
    times, size = [], 0
    for i in range(repeat + 1):
        started = time.perf_counter()
        async with http.get(url, headers=headers) as response:
            body = await response.read()
            assert response.status == 200, (response.status, body[:300])
        if i:  # the first one warms up
            times.append(time.perf_counter() - started)
        size = len(body)
    return times, size


async def _scrapes(settings: Settings, repeat: int) -> tuple[list[float], int]:
    app = build_app(settings, installers=[install_delivery, install_ops])
    async with served(app) as base, aiohttp.ClientSession() as http:
        return await timed_gets(
            http, f"{base}/metrics", {"Authorization": f"Bearer {TOKEN}"}, repeat
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1000, help="queued outbound messages")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    namespace = f"bench-scrape-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory() as directory:
        database_url = f"sqlite:///{directory}/bench.db"
        setup = _settings(database_url, "memory://", namespace, args.bots)
        migrate(open_store(setup, check_schema=False))
        sync_bots([(bot.name, bot.kind) for bot in setup.bots])
        bot = Bot.get(Bot.name == "tg0")
        for i in range(args.rows):
            outbox.enqueue(get_or_create_client(bot, str(1000 + i))[0], "queued")
        # Not due for a day: memory:// serve's own workers would be sending them meanwhile.
        Message.update(next_attempt_at=utcnow() + dt.timedelta(days=1)).execute()
        print(f"{args.bots} bots, {args.rows} queued rows, {args.repeat} scrapes")
        print("| broker | p50 ms | p95 ms | mean ms | body bytes |\n|---|---|---|---|---|")
        for broker in ("memory://", args.redis):
            settings = _settings(database_url, broker, namespace, args.bots)
            times, size = asyncio.run(_scrapes(settings, args.repeat))
            ms = [t * 1000 for t in times]
            print(
                f"| {broker.split(':')[0]} | {percentile(ms, 50):.1f} | {percentile(ms, 95):.1f}"
                f" | {statistics.fmean(ms):.1f} | {size} |"
            )
    client = redis.Redis.from_url(args.redis)
    for key in client.scan_iter(f"{namespace}:*"):
        client.delete(key)


if __name__ == "__main__":
    main()
