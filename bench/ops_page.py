"""What one ``GET /ops`` costs at 10,000 outbox rows (issue 13), per broker, per database.

    .venv/bin/python -m bench.ops_page --rows 10000 --bots 3 --repeat 30
    .venv/bin/python -m bench.ops_page --database postgresql://postgres@127.0.0.1:5432/postgres

Builds a fresh store (SQLite in a temporary directory, or a fresh PostgreSQL database made on
the given server and dropped afterwards) with ``--rows`` outbound messages over ``--bots``
Telegram bots and 1,000 clients: 70 % sent, 10 % failed with an error code, 10 % retried
(queued again with an error, due tomorrow), 10 % queued due tomorrow (so ``memory://`` serve's
own workers send nothing meanwhile), and a day of history (one event per bot per minute).
Serves ``serve``'s application (delivery engine and ops, no channels) on a loopback port and
reports p50/p95 in ms (wall clock, ``perf_counter``) of the whole page, of its live fragment
(``live=1``) and of the page with the error list filtered (bot, code, window), and the body
size, for ``memory://`` and ``redis://`` (its own namespace, deleted afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import psycopg
import redis

from bench.clients import percentile
from bench.metrics_scrape import TOKEN, _settings, timed_gets
from commands.delivery import ENGINE_KEY, install_delivery
from commands.ops import install_ops
from commands.web import build_app
from config import Settings
from emulators.loopback import served
from store.clock import utcnow
from store.inbound import get_or_create_client
from store.migrate import migrate
from store.models import Bot, Message
from store.runtime import open_store
from store.setup import sync_bots
from workers.engine import Engine

CLIENTS = 1000


def _fill(rows: int, bots: int) -> None:
    """``rows`` outbound messages in the mix above, inserted in batches."""
    sync_bots([(f"tg{i}", "telegram") for i in range(bots)])
    bot_rows = [Bot.get(Bot.name == f"tg{i}") for i in range(bots)]
    clients = [get_or_create_client(bot_rows[i % bots], str(5000 + i))[0] for i in range(CLIENTS)]
    now, tomorrow = utcnow(), utcnow() + dt.timedelta(days=1)
    batch = []
    for i in range(rows):
        client = clients[i % CLIENTS]
        row = {
            "client": client.id,
            "bot": client.bot_id,
            "direction": "out",
            "author_kind": "bot",
            "text": f"Message {i}: the sale starts tomorrow at ten, see you there",
            "created_at": now - dt.timedelta(seconds=rows - i),
            "updated_at": now - dt.timedelta(seconds=rows - i),
            "status": "sent",
            "attempts": 1,
            # insert_many takes its columns from the first row: every row has every key.
            "error_code": None,
            "error_text": None,
            "next_attempt_at": None,
        }
        kind = i % 10
        if kind == 7:
            row |= {"status": "failed", "error_code": ("403", "400", "PermanentError")[i % 3]}
            row |= {"error_text": "Forbidden: bot was blocked by the user"}
        elif kind == 8:
            row |= {"status": "queued", "error_code": "429", "error_text": "Too Many Requests"}
            row |= {"next_attempt_at": tomorrow}
        elif kind == 9:
            row |= {"status": "queued", "next_attempt_at": tomorrow, "attempts": 0}
        batch.append(row)
        if len(batch) == 500:
            Message.insert_many(batch).execute()
            batch = []
    if batch:
        Message.insert_many(batch).execute()


async def _loads(settings: Settings, repeat: int) -> dict[str, tuple[list[float], int]]:
    app = build_app(settings, installers=[install_delivery, install_ops])
    engine = app[ENGINE_KEY]
    assert isinstance(engine, Engine)
    start_s = time.time() - 24 * 3600
    for minute in range(24 * 60):  # a day of history: one send a minute per bot
        for bot in settings.bots:
            engine.stats.history.add(bot.name, "sent", 1, start_s + minute * 60)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with served(app) as url, aiohttp.ClientSession() as http:
        base = f"{url}/ops"
        pages = {"page": base, "live fragment": f"{base}?live=1"}
        pages["filtered errors"] = f"{base}?bot=tg0&code=403&window=24h"
        return {name: await timed_gets(http, page, headers, repeat) for name, page in pages.items()}


@contextmanager
def _database(server: str | None) -> Iterator[str]:
    """A fresh database URL: SQLite in a temporary directory, or a new PostgreSQL database on
    ``server`` (dropped afterwards)."""
    if server is None:
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{directory}/bench.db"
        return
    name = f"bench_ops_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=3)
    parser.add_argument("--rows", type=int, default=10_000, help="outbound messages")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--database", default=None, help="a PostgreSQL server URL; default SQLite")
    args = parser.parse_args(argv)
    namespace = f"bench-ops-{secrets.token_hex(4)}"
    with _database(args.database) as database_url:
        setup = _settings(database_url, "memory://", namespace, args.bots)
        migrate(open_store(setup, check_schema=False))
        _fill(args.rows, args.bots)
        kind = "PostgreSQL" if args.database else "SQLite"
        print(f"{kind}, {args.bots} bots, {args.rows} outbox rows, {args.repeat} loads each")
        print("| broker | what | p50 ms | p95 ms | mean ms | body bytes |")
        print("|---|---|---|---|---|---|")
        for broker in ("memory://", args.redis):
            settings = _settings(database_url, broker, namespace, args.bots)
            for name, (times, size) in asyncio.run(_loads(settings, args.repeat)).items():
                ms = [t * 1000 for t in times]
                print(
                    f"| {broker.split(':')[0]} | {name} | {percentile(ms, 50):.1f} | "
                    f"{percentile(ms, 95):.1f} | {statistics.fmean(ms):.1f} | {size} |"
                )
        from store.db import database_proxy

        database_proxy.close()
    client = redis.Redis.from_url(args.redis)
    for key in client.scan_iter(f"{namespace}:*"):
        client.delete(key)


if __name__ == "__main__":
    main()
