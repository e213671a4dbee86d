"""Telegram webhook ingest benchmark (issue 4 item 7).

    .venv/bin/python -m bench.ingest                      # 3 rounds x 5,000 updates, both stores
    .venv/bin/python -m bench.ingest --updates 20000 --connections 16 --rounds 1 --db sqlite
    .venv/bin/python -m bench.ingest --db postgres --pg-admin postgresql://postgres@127.0.0.1:55432/postgres

For each database it makes a fresh store (a SQLite file, or a throwaway PostgreSQL database),
migrates it and starts the real ``switchboard serve`` in a child process with one Telegram
bot whose ``api_base`` is a Bot API emulator in this process (new clients' avatars are looked
up, as by default). A bare aiohttp handler that only parses the JSON and answers 200 runs in
another child process. Each round posts N fresh webhook updates (text messages from
``--users`` different users, one in ten a ``/start`` deep link, one in twenty a photo) over
k concurrent keep-alive connections (default 40, Telegram's default ``max_connections``),
with the secret header, first to the bare handler, then to serve. After a warm-up of 200
updates a PostgreSQL store is ``ANALYZE``d (``analyze``). It reports updates stored
per second (wall clock from the first request to the last answer), p50 / p99
acknowledgement latency in ms, serve's rate as a ratio of the bare rate in the same round,
CPU milliseconds per update of serve (and of the PostgreSQL server processes, which other
work on the machine may share), and checks that every update is stored exactly once.
Target: ratio >= 40 %, p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from aiohttp import web

from bench.pyspy import sampling, top
from emulators.loopback import free_port
from emulators.telegram import SECRET_HEADER, TelegramEmulator

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
def store_url(kind: str, workdir: Path, pg_admin: str = PG_ADMIN) -> Iterator[str]:
    """A fresh store: a SQLite file in ``workdir``, or a throwaway database on the PostgreSQL
    server of ``pg_admin`` (a DSN allowed to create databases)."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    name = f"sb_bench_{secrets.token_hex(4)}"
    with psycopg.connect(pg_admin, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{pg_admin.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(pg_admin, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_s() -> float:
    """CPU seconds of every running ``postgres`` process (server side of the store)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += cpu_s(int(entry.name))
            except OSError:
                continue
    return total


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


def analyze(url: str) -> None:
    """``ANALYZE`` a PostgreSQL store after the warm-up, as autovacuum does a store in use
    within its first minute: on a table without statistics the planner picked the wrong index
    for the dedup look-up (``bot_id`` only, every message of the bot read; docs/benchmarks.md).
    SQLite plans these look-ups by its indexes without statistics: nothing to do."""
    if url.startswith("postgres"):
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("ANALYZE")


@contextlib.asynccontextmanager
async def serving(
    kind: str, emu_url: str, pg_admin: str = PG_ADMIN
) -> AsyncIterator[tuple[str, int, str]]:
    """``switchboard serve`` on a fresh ``kind`` store (PostgreSQL: a database made on the
    server of ``pg_admin``): yields (webhook URL, pid, store URL)."""
    with tempfile.TemporaryDirectory() as tmp, store_url(kind, Path(tmp), pg_admin) as url:
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
        serve = [*cli, "serve", "--port", str(port)]
        if os.environ.get("BENCH_PROFILE"):  # cProfile the server (written when it stops)
            serve[1:1] = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]]
        with child(serve) as process:
            base = f"http://127.0.0.1:{port}"
            await wait_healthy(base, process)
            yield f"{base}/webhooks/telegram/tg", process.pid, url


@contextlib.asynccontextmanager
async def bare() -> AsyncIterator[str]:
    port = free_port()
    with child([sys.executable, "-m", "bench.ingest", "--bare-server", str(port)]) as process:
        base = f"http://127.0.0.1:{port}"
        await wait_healthy(base, process)
        yield f"{base}/webhooks/telegram/tg"


def describe(run: Run, bare_run: Run | None, extra: str = "") -> str:
    ratio = f"{run.rate / bare_run.rate:6.1%}" if bare_run is not None else "     -"
    return (
        f"  {run.name:<16} {run.rate:7.0f} upd/s   p50 {run.percentile(50):6.1f} ms   "
        f"p99 {run.percentile(99):6.1f} ms   ratio {ratio}   errors {run.errors}{extra}"
    )


async def bench_kind(kind: str, args: argparse.Namespace, emu_url: str) -> None:
    """``--rounds`` rounds of: the bare handler, then serve, each with N fresh updates."""
    n, k = args.updates, args.connections
    bodies = make_updates(200 + n * args.rounds, args.users)
    ratios: list[float] = []
    p99s: list[float] = []
    served_by = serving(kind, emu_url, args.pg_admin)
    async with bare() as bare_url, served_by as (serve_url, pid, store):
        await load(bare_url, bodies[:200], k, "warm-up")
        await load(serve_url, bodies[:200], k, "warm-up")
        analyze(store)
        profile = Path(f"{args.profile}.{kind}.raw") if args.profile else None
        for r in range(args.rounds):
            chunk = bodies[200 + r * n : 200 + (r + 1) * n]
            bare_run = await load(bare_url, chunk, k, "bare aiohttp")
            cpu_before, pg_before = cpu_s(pid), postgres_cpu_s()
            with sampling(pid, profile, append=r > 0) if profile else contextlib.nullcontext():
                served = await load(serve_url, chunk, k, f"serve/{kind}")
            cpu = (cpu_s(pid) - cpu_before) / n * 1000
            pg = (postgres_cpu_s() - pg_before) / n * 1000
            ratios.append(served.rate / bare_run.rate)
            p99s.append(served.percentile(99))
            cost = f"   cpu/update serve {cpu:.2f} ms" + (
                f" + pg {pg:.2f} ms" if kind == "postgres" else ""
            )
            print(f"round {r + 1}, load average {os.getloadavg()[0]:.1f}", flush=True)
            print(describe(bare_run, None), flush=True)
            print(describe(served, bare_run, cost), flush=True)
        total, distinct = count_stored(store)  # every request was answered: all stored
    if profile is not None:
        print(f"py-spy profile of serve ({profile}):\n{top(profile)}", flush=True)
    expected = 200 + n * args.rounds
    if total != expected or distinct != expected:
        raise SystemExit(f"{kind}: stored {total} messages ({distinct} distinct) of {expected}")
    print(
        f"{kind}: median ratio {statistics.median(ratios):.1%}, "
        f"median p99 {statistics.median(p99s):.1f} ms, every update stored exactly once",
        flush=True,
    )


async def main_async(args: argparse.Namespace) -> None:
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    async with TelegramEmulator(tokens=[TOKEN], limits=False, record_calls=False) as emu:
        print(
            f"{args.updates} updates x {args.rounds} rounds, {args.connections} connections, "
            f"{args.users} users, {os.cpu_count()} cores",
            flush=True,
        )
        for kind in kinds:
            await bench_kind(kind, args, emu.base_url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Telegram webhook ingest benchmark")
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=40)  # Telegram: max_connections 40
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--profile",
        metavar="PREFIX",
        help="record serve with py-spy during the timed rounds into PREFIX.<db>.raw",
    )
    parser.add_argument("--pg-admin", default=PG_ADMIN, help="DSN allowed to create databases")
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_server:
        bare_server(args.bare_server)
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
