"""``switchboard clients import`` of a big CSV in the export's format (issue 14 item 6).

    .venv/bin/python -m bench.import_csv                       # 1,000,000 rows, both databases
    .venv/bin/python -m bench.import_csv --rows 100000 --db sqlite --again
    .venv/bin/python -m bench.import_csv --db postgres --pg-admin postgresql://postgres@127.0.0.1:55432/postgres

Writes a CSV of ``--rows`` clients in the format ``clients export`` writes (the eleven base
columns, then one column per variable), made from ``bench.clientgen``'s seeded data: names
~55 % Cyrillic, three bots (Telegram, WhatsApp, e-mail), 1.7 variables, 2 block-history rows
and a current block for most clients. For each database it makes a fresh store (a SQLite
file, or a throwaway PostgreSQL database), migrates it and runs the real CLI in a child
process, ``clients import FILE --yes``, timing it by the wall clock (the whole command:
start-up, counting the rows for the plan, the import, the audit) with its CPU time (user +
system: what it costs whatever else the machine runs) and peak RSS; then
checks that the store holds every client, variable and block-history row of the file.
``--again`` imports the same file a second time (every row an update of an existing client).
Target: 1,000,000 rows in <= 60 s on both databases.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.clientgen import BLOCKS, BOTS, generate
from bench.ingest import PG_ADMIN, REPO, store_url
from store.export import BASE_COLUMNS

VARIABLES = ("Email", "Возраст", "Город", "Размер", "Телефон", "Цена")  # the export's order


def _stamp(text: str) -> str:
    """clientgen's 'YYYY-MM-DD HH:MM:SS' (UTC) as the export writes it: ISO with offset."""
    return text.replace(" ", "T") + "+00:00"


def write_csv(path: Path, rows: int) -> dict[str, int]:
    """The CSV of ``rows`` generated clients; returns what the store should hold after."""
    counts = {"client": 0, "variable": 0, "block_history": 0}
    column = {name: len(BASE_COLUMNS) + k for k, name in enumerate(VARIABLES)}
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*BASE_COLUMNS, *VARIABLES])
        for chunk in generate(rows, messages=0):
            history: dict[int, list[str]] = {}
            for client_id, block_id, _ in chunk.history:
                history.setdefault(client_id, []).append(BLOCKS[block_id - 1])
            cells: dict[int, list[str]] = {}
            for cid, bot, mid, name, _u, _l, avatar, created, last, block, tag, *_ in chunk.clients:
                bot_name, kind = BOTS[bot - 1]
                steps = history.get(cid, [])
                cells[cid] = [
                    str(cid),
                    name,
                    kind,
                    bot_name,
                    mid,
                    _stamp(created),
                    _stamp(last),
                    avatar or "",
                    # The current block is the last one entered, as the store keeps it.
                    steps[-1] if steps else (BLOCKS[block - 1] if block else ""),
                    " > ".join(steps),
                    tag or "",
                    *[""] * len(VARIABLES),
                ]
            for client_id, name, value in chunk.variables:
                cells[client_id][column[name]] = value
            writer.writerows(cells.values())
            counts["client"] += len(cells)
            counts["variable"] += len(chunk.variables)
            counts["block_history"] += len(chunk.history)
    return counts


def config_for(url: str, workdir: Path) -> Path:
    config = workdir / "config.yaml"
    bots = "".join(f"  - {{name: {name}, kind: {kind}, enabled: false}}\n" for name, kind in BOTS)
    config.write_text(f'database_url: "{url}"\ntimezone: Europe/Moscow\nbots:\n{bots}')
    return config


@dataclass(frozen=True, slots=True)
class Ran:
    wall_s: float
    cpu_s: float  # user + system of the command's process
    peak_rss_mib: float
    said: str  # its last line of output


def run_cli(config: Path, *args: str) -> Ran:
    """Run ``switchboard ARGS`` in a child process; exits when the command fails."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "SWITCHBOARD_LOG_LEVEL": "WARNING"}
    with tempfile.TemporaryFile("w+") as out:
        began = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "commands", "--config", str(config), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read()
    if child.returncode != 0:
        raise SystemExit(f"switchboard {' '.join(args)} failed:\n{output}")
    cpu = usage.ru_utime + usage.ru_stime
    return Ran(elapsed, cpu, usage.ru_maxrss / 1024, output.strip().splitlines()[-1])


def stored(url: str) -> dict[str, int]:
    from store.db import open_database
    from store.models import BlockHistory, Client, Variable

    database = open_database(url)
    try:
        return {
            "client": Client.select().count(),
            "variable": Variable.select().count(),
            "block_history": BlockHistory.select().count(),
        }
    finally:
        database.close()


def bench_kind(
    kind: str, source: Path, expected: dict[str, int], again: bool, pg_admin: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp, store_url(kind, Path(tmp), pg_admin) as url:
        config = config_for(url, Path(tmp))
        run_cli(config, "migrate")
        runs = ["import", "import again"] if again else ["import"]
        for label in runs:
            ran = run_cli(config, "clients", "import", str(source), "--yes")
            print(
                f"  {kind:<8} {label:<13} {ran.wall_s:6.1f} s  "
                f"{expected['client'] / ran.wall_s:8,.0f} rows/s  CPU {ran.cpu_s:5.1f} s  "
                f"peak RSS {ran.peak_rss_mib:.0f} MiB  load average {os.getloadavg()[0]:.1f}  "
                f"({ran.said})",
                flush=True,
            )
        found = stored(url)
    if found != expected:
        raise SystemExit(f"{kind}: the store holds {found}, the file {expected}")
    print(f"  {kind}: every client, variable and block-history row stored", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="clients import of a big export CSV")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--again", action="store_true", help="import the same file twice")
    parser.add_argument("--csv", type=Path, help="write the generated CSV here (kept)")
    parser.add_argument("--pg-admin", default=PG_ADMIN, help="DSN allowed to create databases")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        source = args.csv or Path(tmp) / "clients.csv"
        began = time.perf_counter()
        expected = write_csv(source, args.rows)  # also when reused: the counts come from it
        size = source.stat().st_size / 1e6
        print(
            f"{args.rows:,} rows ({size:.0f} MB, {expected['variable']:,} variables, "
            f"{expected['block_history']:,} block-history rows) written in "
            f"{time.perf_counter() - began:.1f} s; {os.cpu_count()} cores, "
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
            flush=True,
        )
        for kind in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
            bench_kind(kind, source, expected, args.again, args.pg_admin)


if __name__ == "__main__":
    main()
