"""Broadcast and resend-failed (F4) in the Mini App: the plan, the confirmation, the progress
and Cancel, on the admin bot's layer.

A plan is ``commands.plan``'s (the same text the shell and the admin bot print, and its
figures); confirming it takes a one-time token from ``commands.admin.tokens`` exactly like the
admin bot's Send button, so a double tap starts one job; the job starts through the admin
bot's own ``broadcast_confirmed`` / ``resend_confirmed``. Progress is ``store.jobs.Progress``
(one rule for every front end) and Cancel is the admin bot's Cancel button pressed through
``ADMIN_COMMANDS``: only the job's starter or an admin may cancel. Operators see their own
jobs, admins all of them, as ``/jobs``.
"""

from __future__ import annotations

from typing import Any, Final

from commands.admin import tokens
from commands.admin.clients import parse
from commands.admin.context import CommandContext, CommandError
from commands.admin.jobs import (
    JOBS_SHOWN,
    broadcast_confirmed,
    resend_arguments,
    resend_confirmed,
)
from commands.admin.progress import KIND_NAMES
from commands.admin.registry import ADMIN_COMMANDS
from commands.plan import SendPlan, broadcast_plan, duration, render, resend_plan
from store import jobs
from store.clients.query import select_clients
from store.errors import NotFound
from store.models import Job

MAX_TEXT: Final = 4096  # characters of a broadcast, as the admin bot's /broadcast


def plan_json(plan: SendPlan) -> dict[str, Any]:
    """A plan's text (``commands.plan.render``) and its figures."""
    return {
        "text": render(plan),
        "matched": plan.matched,
        "recipients": plan.recipients,
        "blocked": plan.blocked,
        "unsubscribed": plan.unsubscribed,
        "outside_window": plan.outside_window,
        "eta": duration(plan.eta_s),
        "bots": [
            {"name": b.reach.name, "kind": b.reach.kind, "recipients": b.reach.recipients}
            for b in plan.bots
        ],
    }


def plan_broadcast(ctx: CommandContext, filter_text: str, text: str) -> dict[str, Any]:
    """The plan of broadcasting ``text`` to the clients of ``filter_text`` and, when it
    reaches anyone, the ``token`` that confirms it (``start_broadcast``)."""
    if not filter_text.strip():
        raise CommandError("Give a filter (tab:all for everyone you may write to).")
    if not text.strip():
        raise CommandError("The message is empty.")
    if len(text) > MAX_TEXT:
        raise CommandError(f"The message has {len(text)} characters; at most {MAX_TEXT}.")
    flt = parse(ctx, filter_text)
    plan = broadcast_plan(ctx.settings, select_clients(flt, ctx.operator))
    body = plan_json(plan)
    if plan.recipients:
        body["token"] = tokens.put(
            ctx.operator.id, "broadcast", {"f": filter_text.strip(), "text": text}
        )
    return body


def start_broadcast(ctx: CommandContext, token: str) -> dict[str, Any]:
    """Send the broadcast a plan showed: once per token, whatever the taps."""
    state = tokens.take_confirmation(ctx, token, "broadcast")
    return job_json(ctx, broadcast_confirmed(ctx, state).id)


def plan_resend(ctx: CommandContext, args: str) -> dict[str, Any]:
    """The plan of resend-failed with ``/resendfailed``'s arguments (``since:``, ``channel:``,
    ``interval:``, a filter) and, when it reaches anyone, the confirming ``token``."""
    plan = resend_plan(ctx.settings, **resend_arguments(ctx, args))
    body = plan_json(plan)
    if plan.recipients:
        body["token"] = tokens.put(ctx.operator.id, "resendfailed", {"args": args.strip()})
    return body


def start_resend(ctx: CommandContext, token: str) -> dict[str, Any]:
    """Start the resend a plan showed; ``job`` is None when nothing was left to resend."""
    state = tokens.take_confirmation(ctx, token, "resendfailed")
    job = resend_confirmed(ctx, state["args"])
    if job is None:
        return {"job": None, "notice": "Nothing is left to resend: nothing was sent."}
    return job_json(ctx, job.id)


def _visible_job(ctx: CommandContext, job_id: int) -> Job:
    job = Job.get_or_none(Job.id == job_id)
    if job is None or not (ctx.is_admin or job.created_by_id == ctx.operator.id):
        raise NotFound(f"No job {job_id} among yours.")
    return job


def _progress_json(ctx: CommandContext, p: jobs.Progress) -> dict[str, Any]:
    return p.as_json(ctx.settings.zone) | {
        "name": KIND_NAMES.get(p.kind, p.kind),
        "ratio": p.ratio,
        "active": p.state in jobs.ACTIVE_STATES,
    }


def job_json(ctx: CommandContext, job_id: int) -> dict[str, Any]:
    """A job the operator may see (theirs; an admin any) with its progress."""
    job = _visible_job(ctx, job_id)
    return {"job": _progress_json(ctx, jobs.progress(job.id))}


def recent_jobs(ctx: CommandContext) -> list[dict[str, Any]]:
    """The latest jobs, as ``/jobs`` lists them, in two queries (``progress_many``)."""
    query = Job.select(Job.id).order_by(Job.id.desc()).limit(JOBS_SHOWN)
    if not ctx.is_admin:
        query = query.where(Job.created_by == ctx.operator.id)
    ids = [job.id for job in query]
    return [_progress_json(ctx, p) for p in jobs.progress_many(ids)]


def cancel(ctx: CommandContext, job_id: int) -> dict[str, Any]:
    """Cancel a running job: the admin bot's Cancel button (its starter or an admin)."""
    _visible_job(ctx, job_id)
    reply = ADMIN_COMMANDS.handle_button(ctx, f"pj:c:{job_id}")
    if reply.error:
        raise CommandError(reply.text)
    return job_json(ctx, job_id) | {"notice": reply.notice or f"Job {job_id} cancelled."}
