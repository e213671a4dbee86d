"""Broadcast benchmark (issue 7 item 9, issue 12 item 9): one bot, N clients, real worker
processes on Redis, against every flood model of the emulators.

    .venv/bin/python -m bench.broadcast               # both platforms, 3 models, 1 and 4 workers
    .venv/bin/python -m bench.broadcast --platform whatsapp --clients 600 --workers 1 \
        --flood window escalating

For each platform, flood model and worker count: a fresh PostgreSQL database through the real
migrations, N clients of one bot, ``switchboard worker --processes W`` on the real Redis (a
private namespace), the platform's emulator in this process — the Telegram Bot API emulator
(30/s per bot, 1/s per chat) or the Graph API emulator (the configured rate per number, 6 s per
recipient), counting by the flood model (``emulators.flood``: ``bucket``, ``window``,
``escalating``) — and a broadcast job created as ``switchboard broadcast`` creates it.
Reported: messages/s between the first and the last delivery the emulator accepted (and end to
end: from the job's creation to the last delivery, start-up latency included), the refusals per
1,000 sends, in all and by answer (429; 130429 and 131056 for WhatsApp), messages lost (job rows
not sent or recipients the emulator never saw), duplicates, and the most sends the emulator
accepted in any sliding 1 s window (by its receive times; the limit is 30 or the WhatsApp rate).
With ``--replies N`` (default 20), an operator's reply is written every 0.5 s once a tenth of
the broadcast is out, each to a client outside it: their p95 and worst latency from the outbox
row to the emulator. With ``--kill``, worker process 0 is SIGKILLed once a third is out: the
recovery time is from the kill until every row it had claimed was sent (``bench/incidents.py``).
With ``--paid``, the Telegram bot has ``paid_broadcast: true``: its broadcast goes with
``allow_paid_broadcast``, which the emulator counts at 1,000/s (the % of limit is of 1,000).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.incidents import Kill, Replies, percentile
from emulators.flood import FLOOD_MODELS, max_in_window
from store import jobs
from store.db import database_proxy, open_database
from store.migrate import migrate
from tests.broadcast_rig import (
    Platform,
    WorkerFleet,
    duplicates,
    job_rows,
    seed_clients,
    start_broadcast,
    telegram,
    until,
    whatsapp,
    write_config,
)
from tests.services import REDIS_URL, redis_namespace, temporary_postgres_database


@dataclass
class Result:
    platform: str
    flood: str
    workers: int
    threads: int
    clients: int
    limit_per_s: float
    delivered: int
    seconds: float
    per_s: float
    of_limit_pct: float
    end_to_end_per_s: float
    refused: int
    refused_per_1000: float
    refused_by_code_per_1000: dict[str, float]
    lost: int
    duplicates: int
    slowest_second: int
    max_in_1s: int  # the most accepted sends in any sliding 1 s window at the emulator
    finished: bool  # False: the job was still sending at --timeout (its rest counts as lost)
    replies: int = 0  # operator replies written during the broadcast
    reply_p95_s: float = 0.0  # from the outbox row to the emulator
    reply_max_s: float = 0.0
    replies_missing: int = 0  # replies that never arrived (within 60 s of the last one)
    recovery_s: float | None = None  # --kill: the killed worker's rows all sent (s after it)
    stranded: int = 0  # --kill: rows the killed worker had claimed


class Sampler:
    """Polls the emulator's delivered count every 20 ms: when the first and the last message
    arrived, and the slowest full second in between (messages in it)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.first: float | None = None
        self.last = 0.0
        self.samples: list[tuple[float, int]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        seen = 0
        while True:
            n = len(self.platform.delivered())
            now = time.monotonic()
            if n > seen:
                if self.first is None:
                    self.first = now
                self.last, seen = now, n
            self.samples.append((now, n))
            await asyncio.sleep(0.02)

    def __enter__(self) -> Sampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()

    def slowest_second(self) -> int:
        """Fewest messages delivered in any 1-s window between the first and the last."""
        points = [(t, n) for t, n in self.samples if self.first and self.first <= t <= self.last]
        worst: int | None = None
        j = 0
        for t, n in points:
            while j < len(points) and points[j][0] < t + 1.0:
                j += 1
            if j == len(points):
                break
            count = points[j - 1][1] - n
            worst = count if worst is None else min(worst, count)
        return worst or 0


async def run_one(
    platform: Platform,
    workers: int,
    threads: int,
    workdir: Path,
    timeout_s: float,
    catch_up_s: float,
    replies: int = 0,
    kill: bool = False,
) -> Result:
    with temporary_postgres_database() as database_url, redis_namespace() as namespace:
        database = open_database(database_url)
        database.connect()
        migrate(database)
        try:
            config, settings = write_config(
                workdir,
                database_url=database_url,
                broker_url=REDIS_URL,
                bots=[platform.bot],
                delivery={
                    "namespace": namespace,
                    "worker_processes": workers,
                    "worker_threads": threads,
                    "catch_up_s": catch_up_s,
                },
            )
            kind = platform.bot["kind"]
            seed_clients(platform.bot["name"], kind, platform.messenger_ids)
            fleet = WorkerFleet(config, workers, threads, workdir / f"worker-{kind}-{workers}.log")
            try:
                # Workers up first: the figure is the sending, not Python's start-up.
                await until(lambda: fleet.ready() >= workers, "worker processes", 120)
                with Sampler(platform) as sampler:
                    job_id = start_broadcast(settings, platform.bot["name"], "Bench: sale today")
                    created = time.monotonic()
                    replier = Replies(platform, replies)
                    replier.seed()  # after the job: its clients are not in the broadcast
                    clients = len(platform.recipients)
                    side = [asyncio.create_task(replier.run(clients // 10))] if replies else []
                    killer = Kill(platform, fleet, clients // 3)
                    if kill:
                        side.append(asyncio.create_task(killer.run()))
                    try:
                        await until(
                            lambda: jobs.progress(job_id).remaining == 0,
                            "the job to finish",
                            timeout_s,
                        )
                        finished = True
                    except AssertionError:  # a model that stalls the sender: report, go on
                        finished = False
                    for task in side:  # each ends by itself within a minute or two
                        await task
                    await asyncio.sleep(0.1)
            finally:
                fleet.stop()
            audience = set(platform.recipients)
            delivered = [to for to in platform.delivered() if to in audience]
            rows = job_rows(job_id)
            missing = len(set(platform.recipients) - set(delivered))
            lost = max(missing, len(platform.recipients) - rows.get("sent", 0))
            seconds = sampler.last - (sampler.first or sampler.last)
            per_s = (len(delivered) - 1) / seconds if seconds > 0 else 0.0
            refused = platform.refused()
            per_1000 = 1000 / max(1, len(delivered))
            by_code = platform.refusals()
            return Result(
                platform=platform.name,
                flood=platform.flood,
                workers=workers,
                threads=threads,
                clients=len(platform.recipients),
                limit_per_s=platform.limit_per_s,
                delivered=len(delivered),
                seconds=round(seconds, 2),
                per_s=round(per_s, 2),
                of_limit_pct=round(100 * per_s / platform.limit_per_s, 1),
                end_to_end_per_s=round(len(delivered) / (sampler.last - created), 2),
                refused=refused,
                refused_per_1000=round(refused * per_1000, 2),
                refused_by_code_per_1000={
                    code: round(n * per_1000, 2) for code, n in sorted(by_code.items())
                },
                lost=lost,
                duplicates=duplicates(delivered),
                slowest_second=sampler.slowest_second(),
                max_in_1s=max_in_window(platform.accepted_times(), 1.0),
                finished=finished,
                replies=replies,
                reply_p95_s=round(percentile(replier.latencies_s, 95), 2),
                reply_max_s=round(max(replier.latencies_s, default=0.0), 2),
                replies_missing=replier.missing(),
                recovery_s=None if killer.recovery_s is None else round(killer.recovery_s, 1),
                stranded=killer.stranded,
            )
        finally:
            database.close()
            database_proxy.initialize(None)


async def main_async(args: argparse.Namespace) -> list[Result]:
    results = []
    for name, flood, workers in itertools.product(args.platform, args.flood, args.workers):
        with tempfile.TemporaryDirectory(prefix="sb-bench-") as tmp:
            if name == "whatsapp":
                context = whatsapp(args.clients, args.whatsapp_rate, flood)
            else:
                context = telegram(args.clients, 30.0, flood)
            async with context as platform:
                if args.paid and name == "telegram":  # allow_paid_broadcast, up to 1000/s
                    platform.bot["paid_broadcast"] = True
                    platform.limit_per_s = 1000.0
                result = await run_one(
                    platform,
                    workers,
                    args.threads,
                    Path(tmp),
                    args.timeout,
                    args.catch_up,
                    args.replies,
                    args.kill,
                )
        print(json.dumps(asdict(result)), flush=True)
        results.append(result)
    return results


def table(results: list[Result]) -> str:
    """The results as a Markdown table (docs/benchmarks.md takes it as it is)."""
    lines = [
        "| platform | flood | workers | clients | msg/s | % of limit | end-to-end msg/s "
        "| refused / 1,000 | by answer / 1,000 | lost | dupl. | max in 1 s "
        "| reply p95 / max s | recovery s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        codes = ", ".join(f"{c}: {n:g}" for c, n in r.refused_by_code_per_1000.items()) or "—"
        lines.append(
            f"| {r.platform} ({r.limit_per_s:g}/s) | {r.flood} | {r.workers} | {r.clients:,} "
            f"| {r.per_s:.2f} | {r.of_limit_pct:.1f} % | {r.end_to_end_per_s:.2f} "
            f"| {r.refused_per_1000:g} | {codes} | {r.lost}{'' if r.finished else ' (timed out)'} "
            f"| {r.duplicates} | {r.max_in_1s} | {_replies(r)} | {_recovery(r)} |"
        )
    return "\n".join(lines)


def _replies(r: Result) -> str:
    if not r.replies:
        return "—"
    missing = f" ({r.replies_missing} missing)" if r.replies_missing else ""
    return f"{r.reply_p95_s:.2f} / {r.reply_max_s:.2f}{missing}"


def _recovery(r: Result) -> str:
    if r.recovery_s is None:
        return "—"
    return f"{r.recovery_s:.1f} ({r.stranded} rows)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    platforms = ["telegram", "whatsapp"]
    parser.add_argument("--platform", nargs="+", default=platforms, choices=platforms)
    parser.add_argument("--clients", type=int, default=3000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument(
        "--flood",
        nargs="+",
        default=list(FLOOD_MODELS),
        choices=FLOOD_MODELS,
        help="the emulators' flood models to run against (default: all)",
    )
    parser.add_argument("--threads", type=int, default=8, help="threads per worker process")
    parser.add_argument(
        "--paid", action="store_true", help="Telegram: a paid broadcast (paid_broadcast: true)"
    )
    parser.add_argument("--whatsapp-rate", type=float, default=80.0, help="messages/s")
    parser.add_argument("--catch-up", type=float, default=0.5, help="delivery.catch_up_s")
    parser.add_argument(
        "--replies", type=int, default=20, help="operator replies during each broadcast (0: none)"
    )
    parser.add_argument(
        "--kill", action="store_true", help="SIGKILL worker process 0 once a third is sent"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds one run may take; a run still sending then is reported unfinished",
    )
    results = asyncio.run(main_async(parser.parse_args()))
    print()
    print(table(results))


if __name__ == "__main__":
    main()
