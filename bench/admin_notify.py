"""Admin bot notification benchmark (issue 8 item 4): a burst of inbound messages -> digests.

    .venv/bin/python -m bench.admin_notify                       # 100,000 messages, both DBs
    .venv/bin/python -m bench.admin_notify --messages 10000 --db sqlite

For each database: a fresh store through the real migrations, ``--clients`` clients (a third
bound to 10 operators, the rest free, 3 admins), then ``--messages`` inbound messages written
at once. Reported: the time of the notification round that takes the burst (``claim_range`` +
``plan``, the store side of ``AdminBot.run_round``) and the notifications it makes (messages
the bot would send). Then the whole round through the real aiogram bot and the
Bot API emulator for a burst of 1,000: the Bot API calls made and the wall time. Timings are
wall-clock ``perf_counter``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import psycopg

from commands.admin.notify import claim_range, plan
from commands.admin.telegram import AdminBot
from config import Settings
from store.clock import utcnow
from store.db import database_proxy, open_database
from store.migrate import migrate
from store.models import Bot, Client, Message, Operator

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "sb_bench_admin_notify"
TOKEN = "777001:BENCH-admin"


def fresh(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{PG_NAME}"')
    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{PG_NAME}"


def seed(clients: int) -> tuple[int, list[int]]:
    """Staff and clients; returns the bot id and the client ids."""
    bot = Bot.create(name="shop_tg", kind="telegram")
    staff = [{"telegram_id": 100 + i, "role": "admin", "name": f"Admin {i}"} for i in range(3)]
    staff += [{"telegram_id": 200 + i, "role": "operator", "name": f"Op {i}"} for i in range(10)]
    Operator.insert_many(staff).execute()
    operators = [o.id for o in Operator.select().where(Operator.role == "operator")]
    rows = [
        {
            "bot": bot.id,
            "messenger_id": str(10_000 + i),
            "name": f"Client {i}",
            "responsible": operators[i % len(operators)] if i % 3 == 0 else None,
        }
        for i in range(clients)
    ]
    with database_proxy.atomic():
        for start in range(0, len(rows), 1000):
            Client.insert_many(rows[start : start + 1000]).execute()
    return bot.id, [c.id for c in Client.select(Client.id)]


def burst(bot_id: int, client_ids: list[int], messages: int) -> None:
    now = utcnow()
    rows = [
        {
            "client": client_ids[i % len(client_ids)],
            "bot": bot_id,
            "direction": "in",
            "author_kind": "client",
            "text": f"message {i}",
            "dedup_key": f"bench:{i}",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(messages)
    ]
    with database_proxy.atomic():
        for start in range(0, len(rows), 1000):
            Message.insert_many(rows[start : start + 1000]).execute()


def store_side(kind: str, args: argparse.Namespace, tmp: Path) -> None:
    db = open_database(fresh(kind, tmp))
    db.connect()
    migrate(db)
    bot_id, client_ids = seed(args.clients)
    claim_range(grace_s=0)  # places the cursor
    burst(bot_id, client_ids, args.messages)
    start = time.perf_counter()
    notices = len(plan(claim_range(grace_s=0)))
    elapsed = time.perf_counter() - start
    print(
        f"{kind:8} {args.messages:>8} messages from {args.clients} clients: "
        f"one round, {notices} notifications, {elapsed * 1000:.0f} ms "
        f"({args.messages / elapsed:,.0f} messages/s)"
    )
    db.close()


async def through_telegram(tmp: Path) -> None:
    """A burst of 1,000 through the real bot and the emulator."""
    from emulators.telegram import TelegramEmulator

    db = open_database(f"sqlite:///{tmp / 'tg.db'}")
    db.connect()
    migrate(db)
    bot_id, client_ids = seed(300)
    async with TelegramEmulator(tokens=[TOKEN]) as emu:
        for op in Operator.select():
            emu.user(TOKEN, op.telegram_id)
        settings = Settings.model_validate(
            {"admin_bot": {"token": TOKEN, "api_base": emu.url, "mode": "polling"}}
        )
        admin = AdminBot(settings)
        admin.grace_s = 0.0
        await admin.run_round()
        burst(bot_id, client_ids, 1000)
        start = time.perf_counter()
        sent = await admin.run_round()
        elapsed = time.perf_counter() - start
        calls = len(emu.calls_of("sendMessage"))
        print(
            f"telegram 1000 messages from 300 clients: {sent} Bot API messages "
            f"({calls} sendMessage calls), one round {elapsed * 1000:.0f} ms"
        )
        await admin.bot.session.close()
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
            store_side(kind, args, tmp)
        asyncio.run(through_telegram(tmp))


if __name__ == "__main__":
    main()
