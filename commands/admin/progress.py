"""Live messages: a job's progress (broadcast, resend-failed) edited until it ends, with Cancel.

A command answers with ``Reply.live`` set (``progress_reply`` does, as ``pj:s:<job>``) and the
admin bot records the message it showed (``track``). Every round the bot asks ``claim_due`` for
the live messages last refreshed ``progress_interval_s`` ago or more, presses their ``live``
data as their operator and edits the message with the answer; an answer without ``live`` is
the last edit (``settle``). The claim is one conditional UPDATE per message, so among several
``serve`` processes exactly one refreshes a message each time, and a restart loses nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from commands.admin.context import CommandContext, CommandError
from commands.admin.registry import ADMIN_COMMANDS
from commands.admin.reply import Button, Reply
from store import jobs
from store.clock import utcnow
from store.db import database_proxy
from store.models import AdminNotice, Job, Operator

KIND_NAMES = {"broadcast": "Broadcast", "resend_failed": "Resend of failed messages"}
LIVE_FOR = dt.timedelta(days=2)  # a live message older than this is left as it is


@dataclass(frozen=True, slots=True)
class LiveMessage:
    """A live message due for a refresh, claimed by this process."""

    notice_id: int
    telegram_id: int  # of the operator whose press refreshes it
    chat_id: int
    message_id: int
    live: str


def progress_reply(job_id: int) -> Reply:
    """The job's figures; while it runs, a Cancel button and ``live`` refreshing them."""
    return render_progress(jobs.progress(job_id))


def render_progress(p: jobs.Progress) -> Reply:
    """``progress_reply`` for figures already read (``/jobs`` reads all of its jobs at once)."""
    name = KIND_NAMES.get(p.kind, p.kind)
    lines = [
        f"{name} #{p.id}: {p.state} ({p.percent}%)",
        f"{p.attempted}/{p.planned} done · sent {p.sent} · failed {p.failed} · left {p.remaining}",
        f"of {p.total}: skipped {p.skipped} (blocked or unsubscribed) · "
        f"cancelled {p.cancelled} (not sent)",
    ]
    if p.filter_text:
        lines.append(f"filter: {p.filter_text}")
    if p.state in jobs.ACTIVE_STATES:
        return Reply(
            "\n".join(lines),
            buttons=[[Button("✖ Cancel", data=f"pj:c:{p.id}")]],
            edit=True,
            live=f"pj:s:{p.id}",
        )
    return Reply("\n".join(lines), edit=True)


def track(operator_id: int, chat_id: int, message_id: int, live: str | None) -> None:
    """Record what the message ``message_id`` shows now: live (refreshed by pressing ``live``)
    or, with None, final. A message never live stays untracked."""
    existing = AdminNotice.get_or_none(
        (AdminNotice.chat_id == chat_id)
        & (AdminNotice.message_id == message_id)
        & AdminNotice.live.is_null(False)
    )
    if existing is not None:
        AdminNotice.update(
            live=live or existing.live, final=live is None, updated_at=utcnow()
        ).where(AdminNotice.id == existing.id).execute()
    elif live is not None:
        job_id = int(live[5:]) if live.startswith("pj:s:") and live[5:].isdigit() else None
        if job_id is not None and not Job.select().where(Job.id == job_id).exists():
            job_id = None  # deleted meanwhile: the refresh will say so
        AdminNotice.create(
            operator=operator_id, chat_id=chat_id, message_id=message_id, live=live, job=job_id
        )


def claim_due(interval_s: float, now: dt.datetime | None = None) -> list[LiveMessage]:
    """The live messages to refresh now (last refreshed ``interval_s`` seconds ago or more),
    each claimed for this process; messages live for longer than ``LIVE_FOR`` are settled."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=interval_s)
    live = AdminNotice.live.is_null(False) & (AdminNotice.final == False)  # noqa: E712
    due: list[Any] = list(
        AdminNotice.select(AdminNotice, Operator.telegram_id)
        .join(Operator, on=(AdminNotice.operator == Operator.id))
        .where(live & (AdminNotice.updated_at <= cutoff))
        .order_by(AdminNotice.id)
        .objects()
    )
    claimed: list[LiveMessage] = []
    for notice in due:
        if notice.created_at < now - LIVE_FOR:
            settle(notice.id)
            continue
        with database_proxy.atomic():
            won = (
                AdminNotice.update(updated_at=now)
                .where(
                    (AdminNotice.id == notice.id)
                    & (AdminNotice.updated_at == notice.updated_at)
                    & (AdminNotice.final == False)  # noqa: E712
                )
                .execute()
            )
        if won == 1:
            claimed.append(
                LiveMessage(
                    notice.id, notice.telegram_id, notice.chat_id, notice.message_id, notice.live
                )
            )
    return claimed


def settle(notice_id: int) -> None:
    """The live message shows its last state: refresh it no more."""
    AdminNotice.update(final=True).where(AdminNotice.id == notice_id).execute()


@ADMIN_COMMANDS.button("pj")
def progress_button(ctx: CommandContext, payload: str) -> Reply:
    """``pj:s:JOB``: the job's progress (the refresh); ``pj:c:JOB``: cancel it (its starter
    or an admin)."""
    action, _, arg = payload.partition(":")
    if action not in ("s", "c") or not arg.isdigit():
        return Reply("This button is no longer valid.", notice="expired")
    job = Job.get_or_none(Job.id == int(arg))
    if job is None:
        raise CommandError(f"No job {arg}.")
    if action == "s":
        return progress_reply(job.id)
    if not ctx.is_admin and job.created_by_id != ctx.operator.id:
        raise CommandError("Only its starter or an admin can cancel this job.")
    jobs.cancel(job.id)
    reply = progress_reply(job.id)
    reply.notice = f"Job {job.id} cancelled."
    return reply
