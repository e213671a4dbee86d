"""A broadcast through real ``switchboard worker`` processes, for the drills and the benchmark.

The rig writes a ``config.yaml``, seeds clients set-based, starts ``switchboard worker`` as a
user would (a subprocess of this checkout, in its own session so that it can be cleaned up),
creates the broadcast job in the store and waits for it, while an emulator in the caller's
event loop plays the platform. Nothing here imports pytest: ``bench/broadcast.py`` uses it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from config import Settings, load_settings
from emulators.whatsapp import GraphEmulator
from store import jobs
from store.clock import utcnow
from store.models import Bot, Client, Message
from store.setup import sync_bots

REPO_ROOT = Path(__file__).resolve().parent.parent
TG_TOKEN = "123456:RIG-token"
WA = {"phone_number_id": "106540352242922", "access_token": "EAArig", "app_secret": "s"}


def write_config(
    directory: Path,
    *,
    database_url: str,
    broker_url: str,
    bots: list[dict[str, Any]],
    delivery: dict[str, Any],
) -> tuple[Path, Settings]:
    """``directory/config.yaml`` with these values; returns its path and the parsed settings."""
    path = directory / "config.yaml"
    data: dict[str, Any] = {"database_url": database_url, "broker_url": broker_url, "bots": bots}
    data["delivery"] = delivery
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path, load_settings(str(path))


def seed_clients(bot_name: str, kind: str, messenger_ids: Iterable[str]) -> int:
    """Insert the clients of ``bot_name`` in chunks of 1,000 (one INSERT each)."""
    sync_bots([(bot_name, kind)])
    bot = Bot.get(Bot.name == bot_name)
    now = utcnow()
    rows = [
        {"bot": bot.id, "messenger_id": m, "name": m, "created_at": now, "last_action_at": now}
        for m in messenger_ids
    ]
    for start in range(0, len(rows), 1000):
        Client.insert_many(rows[start : start + 1000]).execute()
    return len(rows)


def start_broadcast(settings: Settings, bot_name: str, text: str) -> int:
    """A broadcast of ``text`` to every client of ``bot_name``, paced as the CLI paces it."""
    from commands.jobs import steps

    bot = Bot.get(Bot.name == bot_name)
    job = jobs.create_broadcast(
        Client.select().where(Client.bot == bot), text, steps=steps(settings)
    )
    return job.id


def in_flight() -> int:
    """Outbox rows claimed by a worker and not finished (``sending``)."""
    return Message.select().where(Message.status == "sending").count()


def claimed_by(pid: int) -> list[int]:
    """Rows ``sending`` under the lease of worker process ``pid`` (``host:pid:random``)."""
    query = Message.select(Message.id).where(
        (Message.status == "sending") & Message.claimed_by.contains(f":{pid}:")
    )
    return [row.id for row in query]


def all_sent(ids: list[int]) -> bool:
    """Whether every row of ``ids`` is ``sent``."""
    return not Message.select().where(Message.id.in_(ids) & (Message.status != "sent")).exists()


def job_rows(job_id: int) -> Counter[str]:
    rows: Any = Message.select(Message.status).where(Message.job == job_id).tuples().iterator()
    return Counter(status for (status,) in rows)


async def until(predicate: Callable[[], bool], what: str, timeout_s: float) -> float:
    """Wait (polling every 50 ms) until ``predicate()``; returns the seconds it took."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def duplicates(recipients: Iterable[str]) -> int:
    """Deliveries beyond the first to the same recipient."""
    return sum(n - 1 for n in Counter(recipients).values() if n > 1)


@dataclass
class WorkerFleet:
    """``switchboard worker --processes N --threads T`` as a subprocess; its output is kept."""

    config_path: Path
    processes: int
    threads: int
    log_path: Path

    def __post_init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env["PYTHONPATH"] = str(REPO_ROOT)
        env["SWITCHBOARD_LOG_LEVEL"] = "INFO"  # "worker process ready" tells start-up is over
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "commands", "--config", str(self.config_path)),
                *("worker", "--processes", str(self.processes), "--threads", str(self.threads)),
            ],
            cwd=self.config_path.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,
        )
        self.children: list[int] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._log.write(line)
            self._log.flush()
            with self._lock:
                if "; pids " in line:
                    self.children = [int(p) for p in line.split("; pids ")[1].split()]
                elif "restarted pid " in line:
                    self.children.append(int(line.rsplit(" ", 1)[1]))

    def ready(self) -> int:
        """Worker processes that finished starting (imports done, consuming)."""
        return self.log_path.read_text().count("worker process ready")

    def pids(self) -> list[int]:
        with self._lock:
            return list(self.children)

    def kill_child(self, index: int = 0) -> int:
        """SIGKILL one worker process (no cleanup at all, as a crash); returns its pid."""
        pid = self.pids()[index]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM (graceful), then SIGKILL the whole session of the fleet if needed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout_s)
        # Whatever of this fleet's own session is left (a hung child), by its group id.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)
        self._reader.join(2)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text()


@dataclass
class Platform:
    """An emulator and the bot that talks to it (``bot``: its config entry, ``messenger_ids``
    its clients): ``delivered()`` lists the recipients the platform accepted, in order,
    ``refused()`` counts the refused sends (429s, Cloud API rate-limit errors), ``refusals()``
    counts them by answer (``"429"``, ``"130429"``, ``"131056"`` ...), ``accepted_times()``
    lists the emulator's receive times (s) of the accepted sends; ``flood``: the emulator's
    flood model; ``emulator``: the emulator itself (TelegramEmulator or GraphEmulator)."""

    name: str
    limit_per_s: float
    bot: dict[str, Any]
    recipients: list[str]
    messenger_ids: list[str]
    delivered: Callable[[], list[str]]
    refused: Callable[[], int]
    refusals: Callable[[], Counter[str]]
    accepted_times: Callable[[], list[float]]
    flood: str = "bucket"
    emulator: Any = None


@contextlib.asynccontextmanager
async def whatsapp(clients: int, rate: float, flood: str = "bucket") -> AsyncIterator[Platform]:
    """The Graph API emulator (``rate`` per number, 6 s per recipient, counted by the ``flood``
    model) and bot ``wa``."""
    async with GraphEmulator(
        access_token=WA["access_token"],
        messages_per_second=rate,
        seconds_per_recipient=6,
        flood=flood,
    ) as graph:
        recipients = [f"1555{i:07d}" for i in range(clients)]
        bot: dict[str, Any] = {"name": "wa", "kind": "whatsapp", **WA, "verify_token": "v"}
        bot.update(api_base=graph.url, messages_per_second=rate)
        yield Platform(
            "whatsapp",
            rate,
            bot,
            recipients,
            [f"+{r}" for r in recipients],
            lambda: [m.to for m in graph.sent],
            lambda: sum(1 for c in graph.calls if c.path.endswith("/messages") and c.status != 200),
            lambda: Counter(
                str(c.response.get("error", {}).get("code", c.status))
                for c in graph.calls
                if c.path.endswith("/messages") and c.status != 200
            ),
            graph.accepted_sends,
            flood,
            graph,
        )


@contextlib.asynccontextmanager
async def telegram(clients: int, rate: float, flood: str = "bucket") -> AsyncIterator[Platform]:
    """The Bot API emulator (``rate`` per bot, 1/s per chat, counted by the ``flood`` model)
    and bot ``tg``."""
    from emulators.telegram import TelegramEmulator

    async with TelegramEmulator(
        messages_per_second=rate, accept_unknown_chats=True, record_calls=True, flood=flood
    ) as api:
        api.bot(TG_TOKEN, username="bench_bot")
        recipients = [str(10_000_000 + i) for i in range(clients)]
        bot: dict[str, Any] = {"name": "tg", "kind": "telegram", "token": TG_TOKEN}
        bot["api_base"] = api.base_url
        bot["messages_per_second"] = rate
        yield Platform(
            "telegram",
            rate,
            bot,
            recipients,
            recipients,
            lambda: [str(m.chat_id) for m in api.sent(TG_TOKEN)],
            lambda: sum(1 for c in api.calls_of("sendMessage") if c.status == 429),
            lambda: Counter(str(c.status) for c in api.calls_of("sendMessage") if c.status != 200),
            lambda: api.accepted_sends(TG_TOKEN),
            flood,
            api,
        )
