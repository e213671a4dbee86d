"""What happens beside a broadcast in ``bench/broadcast.py``: operator replies and a SIGKILL.

``Replies`` writes an operator's reply (interactive lane) every ``every_s`` seconds while the
broadcast runs, each to a client outside the broadcast, and measures how long each took from
the outbox row to the emulator (polled every 20 ms). ``Kill`` SIGKILLs one worker process once
a third of the broadcast is delivered and measures how long the rows it had claimed took to be
sent by the others (its lease runs out: ``delivery.lease_s``).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field

from store import outbox
from store.models import Bot, Client
from tests.broadcast_rig import (
    Platform,
    WorkerFleet,
    all_sent,
    claimed_by,
    in_flight,
    seed_clients,
    until,
)


def reply_recipients(platform: Platform, n: int) -> tuple[list[str], list[str]]:
    """``n`` recipients outside the broadcast: (as the platform sees them, as stored)."""
    if platform.name == "whatsapp":
        seen = [f"1666{i:07d}" for i in range(n)]
        return seen, [f"+{r}" for r in seen]
    seen = [str(90_000_000 + i) for i in range(n)]
    return seen, seen


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``; 0 for none."""
    if not values:
        return 0.0
    ranked = sorted(values)
    return ranked[max(0, math.ceil(p / 100 * len(ranked)) - 1)]


@dataclass
class Replies:
    """Operator replies during the broadcast; ``latencies_s`` of those that arrived."""

    platform: Platform
    count: int
    every_s: float = 0.5
    latencies_s: list[float] = field(default_factory=list)

    def seed(self) -> None:
        """Create the reply clients (after the broadcast job, so it does not include them)."""
        _, stored = reply_recipients(self.platform, self.count)
        seed_clients(self.platform.bot["name"], self.platform.bot["kind"], stored)

    async def run(self, start_at: int, timeout_s: float = 60.0) -> None:
        """Write the replies one by one once ``start_at`` messages were delivered; then wait
        (at most ``timeout_s``) for the last ones to arrive."""
        seen, stored = reply_recipients(self.platform, self.count)
        bot = Bot.get(Bot.name == self.platform.bot["name"])
        await until(lambda: len(self.platform.delivered()) >= start_at, "the broadcast", 600)
        pending: dict[str, float] = {}
        for to, messenger_id in zip(seen, stored, strict=True):
            client = Client.get((Client.bot == bot) & (Client.messenger_id == messenger_id))
            outbox.enqueue(client, "Your order has shipped", author_kind="operator")
            pending[to] = time.monotonic()
            await self._collect(pending, self.every_s)
        await self._collect(pending, timeout_s)

    async def _collect(self, pending: dict[str, float], seconds: float) -> None:
        """Poll the platform for ``seconds`` (or until nothing is pending)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            arrived = set(self.platform.delivered()) & pending.keys()
            now = time.monotonic()
            self.latencies_s += [now - pending.pop(to) for to in arrived]
            if not pending and seconds > self.every_s:
                return
            await asyncio.sleep(0.02)

    def missing(self) -> int:
        return self.count - len(self.latencies_s)


@dataclass
class Kill:
    """SIGKILL worker process 0 once ``at`` messages were delivered; ``recovery_s``: from the
    kill until every row it had claimed was sent (None: no kill happened)."""

    platform: Platform
    fleet: WorkerFleet
    at: int
    recovery_s: float | None = None
    stranded: int = 0
    in_flight: int = 0

    async def run(self, timeout_s: float = 120.0) -> None:
        await until(lambda: len(self.platform.delivered()) >= self.at, "a third sent", 600)
        try:
            pid = self.fleet.kill_child(0)
        except ProcessLookupError:  # process 0 had already died and been replaced
            pid = self.fleet.kill_child(-1)
        killed_at = time.monotonic()
        self.in_flight = in_flight()
        held = claimed_by(pid)
        self.stranded = len(held)
        while time.monotonic() - killed_at < timeout_s:
            if all_sent(held):
                self.recovery_s = time.monotonic() - killed_at
                return
            await asyncio.sleep(0.05)
