"""Live progress messages of long-running jobs (broadcast, resend-failed), with a Cancel button.

Whoever starts a job from the admin bot (``Job.created_by``) gets one progress message that the
bot edits at most every ``progress_interval_s`` until the job ends, then once more with the
final figures and no button. Which process sends or edits is decided in the store, so several
``serve`` processes never send the same progress message twice:

* ``claim_new_jobs`` inserts the ``AdminNotice`` row of (job, operator) (unique) with
  ``message_id`` 0 before sending; only the inserting process sends, then ``attach`` records
  the message id;
* ``claim_due`` takes the notices whose last edit is older than the interval with one
  conditional UPDATE per notice; the process whose UPDATE changed the row edits.
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


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    """A progress message to send (``message_id`` None) or edit."""

    notice_id: int
    chat_id: int
    message_id: int | None
    reply: Reply


def progress_reply(job_id: int) -> Reply:
    """The job's figures, with a Cancel button while it runs."""
    p = jobs.progress(job_id)
    name = KIND_NAMES.get(p.kind, p.kind)
    done = p.sent + p.failed
    share = f" ({100 * done // max(1, p.total - p.skipped)}%)" if p.total > p.skipped else ""
    lines = [
        f"{name} #{p.id}: {p.state}{share}",
        f"sent {p.sent} · failed {p.failed} · left {p.remaining} · of {p.total}",
    ]
    if p.skipped:
        lines.append(f"skipped {p.skipped} (blocked or unsubscribed)")
    if p.cancelled:
        lines.append(f"cancelled before sending: {p.cancelled}")
    if p.filter_text:
        lines.append(f"filter: {p.filter_text}")
    active = p.state in jobs.ACTIVE_STATES
    buttons = [[Button("✖ Cancel", data=f"pj:c:{p.id}")]] if active else []
    return Reply("\n".join(lines), buttons=buttons, edit=True)


def claim_new_jobs(now: dt.datetime | None = None) -> list[ProgressUpdate]:
    """Progress messages to send for running jobs started by an operator who has none yet."""
    now = now or utcnow()
    tracked = AdminNotice.select(AdminNotice.job).where(AdminNotice.job.is_null(False))
    fresh: Any = (
        Job.select(Job.id, Operator.id, Operator.telegram_id)
        .join(Operator, on=(Job.created_by == Operator.id))
        .where(Job.state.in_(jobs.ACTIVE_STATES) & Job.id.not_in(tracked))
        .tuples()
    )
    updates: list[ProgressUpdate] = []
    for job_id, operator_id, telegram_id in list(fresh):
        inserted = (
            AdminNotice.insert(
                operator=operator_id,
                chat_id=telegram_id,
                message_id=0,
                job=job_id,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_ignore()
            .as_rowcount()
            .execute()
        )
        if inserted != 1:
            continue  # another process claimed it
        notice = AdminNotice.get(
            (AdminNotice.job == job_id) & (AdminNotice.operator == operator_id)
        )
        reply = progress_reply(job_id)
        reply.edit = False
        updates.append(ProgressUpdate(notice.id, telegram_id, None, reply))
    return updates


def attach(notice_id: int, message_id: int) -> None:
    """Record the Telegram id of the progress message just sent."""
    AdminNotice.update(message_id=message_id).where(AdminNotice.id == notice_id).execute()


def claim_due(interval_s: float, now: dt.datetime | None = None) -> list[ProgressUpdate]:
    """Progress messages to edit now: not final, sent, last edited ``interval_s`` ago or more.
    A job that ended gets its final edit here and its notice is marked final."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=interval_s)
    due = list(
        AdminNotice.select()
        .where(
            AdminNotice.job.is_null(False)
            & (AdminNotice.final == False)  # noqa: E712
            & (AdminNotice.message_id != 0)
            & (AdminNotice.updated_at <= cutoff)
        )
        .order_by(AdminNotice.id)
    )
    updates: list[ProgressUpdate] = []
    for notice in due:
        assert notice.job_id is not None
        state = Job.select(Job.state).where(Job.id == notice.job_id).scalar()
        final = state not in jobs.ACTIVE_STATES
        with database_proxy.atomic():
            won = (
                AdminNotice.update(updated_at=now, final=final)
                .where(
                    (AdminNotice.id == notice.id)
                    & (AdminNotice.updated_at == notice.updated_at)
                    & (AdminNotice.final == False)  # noqa: E712
                )
                .execute()
            )
        if won == 1:
            updates.append(
                ProgressUpdate(
                    notice.id, notice.chat_id, notice.message_id, progress_reply(notice.job_id)
                )
            )
    return updates


@ADMIN_COMMANDS.button("pj")
def progress_button(ctx: CommandContext, payload: str) -> Reply:
    """``pj:c:JOB``: cancel the job (its starter or an admin)."""
    action, _, arg = payload.partition(":")
    if action != "c" or not arg.isdigit():
        return Reply("This button is no longer valid.", notice="expired")
    job = Job.get_or_none(Job.id == int(arg))
    if job is None:
        raise CommandError(f"No job {arg}.")
    if not ctx.is_admin and job.created_by_id != ctx.operator.id:
        raise CommandError("Only its starter or an admin can cancel this job.")
    jobs.cancel(job.id)
    reply = progress_reply(job.id)
    reply.notice = f"Job {job.id} cancelled."
    # The pressed message shows the end now: no later edit needs to touch it.
    AdminNotice.update(final=True).where(AdminNotice.job == job.id).execute()
    return reply
