"""Telegram webhook ingest benchmark (issue 4 item 7).

    .venv/bin/python -m bench.ingest                          # 5,000 updates, 16 connections, both
    .venv/bin/python -m bench.ingest --updates 20000 --connections 32 --db sqlite

For each database it makes a fresh store (a SQLite file, or a throwaway PostgreSQL database),
migrates it and starts the real ``switchboard serve`` in a child process with one Telegram
bot whose ``api_base`` is a Bot API emulator in this process (new clients' avatars are looked
up, as by default). A load generator then posts N distinct webhook updates (text messages from
``--users`` different users, one in ten a ``/start`` deep link, one in twenty a photo) over
k concurrent keep-alive connections, with the secret header. It reports updates stored per
second (wall clock from the first request to the last answer), p50 / p99 acknowledgement
latency in ms, and checks that every update is stored exactly once. In the same run the same
load goes to a bare aiohttp handler in a child process that only parses the JSON and answers
200; the ratio is serve's rate over the bare rate. Target: ratio >= 40 %, p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from aiohttp import web

from bots.emulators.telegram import SECRET_HEADER, TelegramEmulator

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TOKEN = "424242:BENCH-token"
SECRET = "bench-secret"


@dataclass(frozen=True, slots=True)
class Run:
    name: str
    updates: int
    elapsed_s: float
    latencies_ms: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.updates / self.elapsed_s

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        rank = max(1, -(-len(ordered) * q // 100))
        return ordered[int(rank) - 1]


def make_updates(n: int, users: int, first_id: int = 1) -> list[bytes]:
    """``n`` distinct updates as the JSON bodies Telegram would post."""
    bodies = []
    for i in range(n):
        user_id = 700_000_000 + i % users
        person = {"id": user_id, "is_bot": False, "first_name": f"User{i % users}"}
        message: dict[str, Any] = {
            "message_id": i + 1,
            "date": 1_700_000_000 + i,
            "chat": {"id": user_id, "type": "private", "first_name": person["first_name"]},
            "from": {**person, "language_code": "en"},
        }
        if i % 10 == 0:
            message["text"] = f"/start campaign_{i % 7}"
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
        elif i % 20 == 1:
            message["photo"] = [
                {
                    "file_id": f"AgAC{i}",
                    "file_unique_id": f"u{i}",
                    "file_size": 51234,
                    "width": 800,
                    "height": 600,
                }
            ]
            message["caption"] = "look at this"
        else:
            message["text"] = f"hello, message number {i} with a few words in it"
        bodies.append(json.dumps({"update_id": first_id + i, "message": message}).encode())
    return bodies


async def load(url: str, bodies: list[bytes], connections: int, name: str) -> Run:
    """Post every body over ``connections`` concurrent keep-alive connections."""
    headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
    latencies: list[float] = []
    errors = 0
    queue = iter(bodies)
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            nonlocal errors
            for body in queue:
                started = time.perf_counter()
                async with http.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append((time.perf_counter() - started) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    return Run(name, len(bodies), elapsed, latencies, errors)


# ---- the bare handler ----------------------------------------------------------------------
def bare_server(port: int) -> None:
    async def handle(request: web.Request) -> web.Response:
        json.loads(await request.read())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/webhooks/telegram/{bot_name}", handle)
    app.router.add_get("/healthz", lambda r: web.json_response({"status": "ok"}))  # type: ignore[arg-type,return-value]
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# ---- processes and stores --------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_healthy(base: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            try:
                async with http.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not become healthy")


@contextmanager
def child(args: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    full_env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SWITCHBOARD_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    process = subprocess.Popen(args, env=full_env, stdout=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def store_url(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    name = f"sb_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count_stored(url: str) -> tuple[int, int]:
    """(messages, distinct dedup keys) in the store at ``url``."""
    from store.db import open_database
    from store.models import Message

    database = open_database(url)
    try:
        total = Message.select().count()
        distinct = Message.select(Message.dedup_key).distinct().count()
        return total, distinct
    finally:
        database.close()


async def run_serve(kind: str, bodies: list[bytes], connections: int, emu_url: str) -> Run:
    with tempfile.TemporaryDirectory() as tmp, store_url(kind, Path(tmp)) as url:
        config = Path(tmp) / "config.yaml"
        config.write_text(
            f'database_url: "{url}"\n'
            "bots:\n"
            f'  - {{name: tg, kind: telegram, token: "{TOKEN}", webhook_secret: {SECRET}, '
            f'api_base: "{emu_url}"}}\n'
        )
        cli = [sys.executable, "-m", "commands", "--config", str(config)]
        subprocess.run(  # noqa: ASYNC221 (once, before anything is timed)
            [*cli, "migrate"],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        port = free_port()
        with child([*cli, "serve", "--port", str(port)]) as process:
            base = f"http://127.0.0.1:{port}"
            await wait_healthy(base, process)
            await load(f"{base}/webhooks/telegram/tg", bodies[:200], connections, "warm-up")
            run = await load(
                f"{base}/webhooks/telegram/tg", bodies[200:], connections, f"serve/{kind}"
            )
        total, distinct = count_stored(url)
        if total != len(bodies) or distinct != len(bodies):
            raise SystemExit(
                f"{kind}: stored {total} messages ({distinct} distinct) for {len(bodies)} updates"
            )
        return run


async def run_bare(bodies: list[bytes], connections: int) -> Run:
    port = free_port()
    with child([sys.executable, "-m", "bench.ingest", "--bare-server", str(port)]) as process:
        base = f"http://127.0.0.1:{port}"
        await wait_healthy(base, process)
        await load(f"{base}/webhooks/telegram/tg", bodies[:200], connections, "warm-up")
        return await load(f"{base}/webhooks/telegram/tg", bodies[200:], connections, "bare aiohttp")


def describe(run: Run, bare: Run | None) -> str:
    ratio = f"{run.rate / bare.rate:6.1%}" if bare is not None else "     -"
    return (
        f"{run.name:<16} {run.rate:9.0f} upd/s   p50 {run.percentile(50):6.1f} ms   "
        f"p99 {run.percentile(99):6.1f} ms   ratio {ratio}   errors {run.errors}"
    )


async def main_async(args: argparse.Namespace) -> None:
    bodies = make_updates(args.updates + 200, args.users)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    async with TelegramEmulator(tokens=[TOKEN], limits=False, record_calls=False) as emu:
        print(
            f"{args.updates} updates, {args.connections} connections, {args.users} users, "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        for kind in kinds:
            bare = await run_bare(bodies, args.connections)
            served = await run_serve(kind, bodies, args.connections, emu.base_url)
            print(describe(bare, None), flush=True)
            print(describe(served, bare) + "   stored exactly once: yes", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Telegram webhook ingest benchmark")
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_server:
        bare_server(args.bare_server)
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
