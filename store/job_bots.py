"""One job's figures per bot, for its ``/ops`` page: the rows of each bot by status and when
the bot's remaining rows are due (the plan: ``store.jobs`` spaces each bot's rows ``step_s``
apart, so the last due time is when the bot's part should be done).

One grouped query over the job's rows (the ``job`` index). Rows a cancel removed are gone, so
per bot there is no cancelled count: the job's total has it (``store.jobs.Progress``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import peewee as pw

from store.jobs import SENT_STATUSES
from store.models import Bot, Message


@dataclass(frozen=True, slots=True)
class BotPart:
    """``bot``'s rows of the job: ``sent`` (sent, delivered, read), ``failed``, ``remaining``
    (queued or sending); ``next_due``/``last_due``: the earliest and latest ``next_attempt_at``
    of its queued rows (naive UTC; None with none queued)."""

    bot: str
    sent: int
    failed: int
    remaining: int
    next_due: dt.datetime | None
    last_due: dt.datetime | None

    @property
    def rows(self) -> int:
        return self.sent + self.failed + self.remaining


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, str):  # SQLite hands an aggregate back as text
        return dt.datetime.fromisoformat(value)
    return value if isinstance(value, dt.datetime) else None


def parts_by_bot(job_id: int) -> list[BotPart]:
    """The job's rows per bot, by bot name."""
    queued = Message.status == "queued"
    rows: Any = (
        Message.select(
            Bot.name,
            Message.status,
            pw.fn.COUNT(Message.id),
            pw.fn.MIN(pw.Case(None, [(queued, Message.next_attempt_at)], None)),
            pw.fn.MAX(pw.Case(None, [(queued, Message.next_attempt_at)], None)),
        )
        .join(Bot, on=(Message.bot == Bot.id))
        .where(Message.job == job_id)
        .group_by(Bot.name, Message.status)
        .tuples()
    )
    found: dict[str, dict[str, Any]] = {}
    for name, status, n, first, last in rows:
        part = found.setdefault(name, {"sent": 0, "failed": 0, "remaining": 0, "due": []})
        if status in SENT_STATUSES:
            part["sent"] += n
        elif status == "failed":
            part["failed"] += n
        elif status in ("queued", "sending"):
            part["remaining"] += n
        part["due"] += [t for t in (_time(first), _time(last)) if t is not None]
    return [
        BotPart(
            name,
            p["sent"],
            p["failed"],
            p["remaining"],
            min(p["due"], default=None),
            max(p["due"], default=None),
        )
        for name, p in sorted(found.items())
    ]
