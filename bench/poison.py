"""Poison in the write batches (issue 19 items 2 and 3): do valid requests still get through,
and how long do they wait?

    .venv/bin/python -m bench.poison                       # both stores, 600 updates, 1 in 4 poison
    .venv/bin/python -m bench.poison --db sqlite --updates 2000 --whatsapp-senders 6

For each database: a fresh store, migrated, with a refusal installed in the database itself
(``tests.poison.refused_texts``: a message whose text starts with ``poison`` fails its
INSERT, as data the database refuses would), then the real ``switchboard serve`` in a child
process with a Telegram bot and a WhatsApp bot. Telegram updates are posted in waves of
``--wave`` concurrent requests, one in four poison; meanwhile ``--whatsapp-senders`` loops
post valid signed WhatsApp webhooks one after another. It reports the Telegram answers
(200 expected for all: a poison update is kept as an unusable item), how many valid updates
are stored (exactly once), and the WhatsApp answers: statuses and p50 / p99 / max latency.
Before the writer isolated failures, valid updates sharing a batch with poison got 500; and
on SQLite valid WhatsApp requests got 503 after a failed batch (the 5 s busy timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

from bench.ingest import REPO, child, store_url, wait_healthy
from bots.whatsapp.signature import SIGNATURE_HEADER, sign
from emulators import whatsapp_payloads as wp
from emulators.loopback import free_port
from emulators.telegram import SECRET_HEADER, TelegramEmulator
from store.db import make_database
from tests.poison import refused_texts

TOKEN = "424242:BENCH-token"
SECRET = "bench-secret"
APP_SECRET = "bench-app-secret"
PHONE_ID = "106540352242922"


def config_text(url: str, emu_url: str) -> str:
    return (
        f'database_url: "{url}"\n'
        "bots:\n"
        f'  - {{name: tg, kind: telegram, token: "{TOKEN}", webhook_secret: {SECRET}, '
        f'api_base: "{emu_url}", fetch_avatars: false}}\n'
        f"  - {{name: wa, kind: whatsapp, phone_number_id: '{PHONE_ID}', access_token: t, "
        f"app_secret: {APP_SECRET}, verify_token: v}}\n"
    )


def update(n: int) -> bytes:
    person = 1000 + n % 97
    chat = {"id": person, "type": "private", "first_name": f"P{person}"}
    text = f"poison {n}" if n % 4 == 1 else f"valid {n}"
    message = {"message_id": n, "date": int(time.time()), "chat": chat, "text": text}
    message["from"] = {"id": person, "is_bot": False, "first_name": f"P{person}"}
    return json.dumps({"update_id": n, "message": message}).encode()


async def bench(kind: str, args: argparse.Namespace, emu_url: str) -> None:
    with tempfile.TemporaryDirectory() as tmp, store_url(kind, Path(tmp)) as url:
        config = Path(tmp) / "config.yaml"
        config.write_text(config_text(url, emu_url))
        cli = [sys.executable, "-m", "commands", "--config", str(config)]
        env = {"PYTHONPATH": str(REPO)}
        subprocess.run([*cli, "migrate"], check=True, stdout=subprocess.DEVNULL, env=env)  # noqa: ASYNC221
        database = make_database(url)
        with refused_texts(database):
            port = free_port()
            with child([*cli, "serve", "--port", str(port)]) as process:
                base = f"http://127.0.0.1:{port}"
                await wait_healthy(base, process)
                tg, wa = await load(base, args)
        stored = database.execute_sql(
            "SELECT count(*), count(DISTINCT dedup_key) FROM message "
            "WHERE substr(dedup_key, 1, 3) = 'tg:'"
        ).fetchone()
        database.close()
    valid = [status for n, status in tg.items() if n % 4 != 1]
    poison = [status for n, status in tg.items() if n % 4 == 1]
    latencies = sorted(ms for _, ms in wa)
    print(
        f"{kind:<8} telegram valid {dict(Counter(valid))} poison {dict(Counter(poison))} "
        f"stored {stored[0]} ({stored[1]} distinct, {len(valid)} valid sent)\n"
        f"         whatsapp {dict(Counter(s for s, _ in wa))}  p50 "
        f"{statistics.median(latencies):.0f} ms  p99 "
        f"{latencies[int(len(latencies) * 0.99) - 1]:.0f} ms  max {latencies[-1]:.0f} ms"
    )


async def load(
    base: str, args: argparse.Namespace
) -> tuple[dict[int, int], list[tuple[int, float]]]:
    """Telegram statuses by update number; WhatsApp (status, latency ms) of each request."""
    done = asyncio.Event()
    wa: list[tuple[int, float]] = []
    tg: dict[int, int] = {}
    async with aiohttp.ClientSession() as http:

        async def whatsapp(sender: int) -> None:
            n = 0
            while not done.is_set():
                n += 1
                payload = wp.envelope(
                    PHONE_ID, messages=[wp.text(f"44770{sender:02d}{n:05d}", "hi")]
                )
                raw = json.dumps(payload).encode()
                headers = {
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(raw, APP_SECRET),
                }
                started = time.perf_counter()
                async with http.post(
                    f"{base}/webhooks/whatsapp/wa", data=raw, headers=headers
                ) as r:
                    await r.read()
                wa.append((r.status, (time.perf_counter() - started) * 1000))

        async def telegram(n: int) -> None:
            headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
            async with http.post(
                f"{base}/webhooks/telegram/tg", data=update(n), headers=headers
            ) as r:
                tg[n] = r.status

        senders = [asyncio.create_task(whatsapp(i)) for i in range(args.whatsapp_senders)]
        for first in range(1, args.updates + 1, args.wave):
            last = min(first + args.wave, args.updates + 1)
            await asyncio.gather(*(telegram(n) for n in range(first, last)))
        done.set()
        await asyncio.gather(*senders)
    return tg, wa


async def main_async(args: argparse.Namespace) -> None:
    async with TelegramEmulator(tokens=[TOKEN], limits=False) as emu:
        for kind in args.db:
            await bench(kind, args, emu.base_url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.poison", description=__doc__.splitlines()[0])
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--updates", type=int, default=600, help="Telegram updates (default 600)")
    parser.add_argument("--wave", type=int, default=40, help="concurrent Telegram requests (40)")
    parser.add_argument("--whatsapp-senders", type=int, default=2, help="WhatsApp loops (2)")
    args = parser.parse_args(argv)
    args.db = args.db or ["sqlite", "postgres"]
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
