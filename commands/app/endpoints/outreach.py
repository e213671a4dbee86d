"""Broadcast and resend-failed (F4): the plan, its confirmation, the jobs' progress and Cancel
(``commands.app.outreach`` on the admin bot's ``/broadcast``, ``/resendfailed``, ``/jobs``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from commands.app import outreach
from commands.app.api import API, ApiModel
from commands.app.context import ApiContext


class BotShare(ApiModel):
    name: str
    """The bot."""
    kind: str
    """Its messenger."""
    recipients: int
    """Clients it sends to."""


class PlanOut(ApiModel):
    text: str
    """The plan as the shell and the admin bot print it."""
    matched: int
    """Clients the filter matches."""
    recipients: int
    """Of them, the ones sent to."""
    blocked: int
    """Skipped: blocked by us."""
    unsubscribed: int
    """Skipped: they blocked the bot."""
    outside_window: int
    """WhatsApp recipients outside the 24-hour window (they get the bot's template)."""
    eta: str
    """About how long it takes."""
    bots: list[BotShare]
    """Per bot."""
    token: str | None = None
    """Confirms this plan once (`/broadcast/start`, `/resend/start`); none: nothing to send."""


class BroadcastIn(ApiModel):
    filter: str = Field(min_length=1, max_length=2000)
    """The clients, in the filter language (`tab:all` for everyone you may write to)."""
    text: str = Field(min_length=1, max_length=4096)
    """The message."""


@API.endpoint(
    "POST",
    "/broadcast/plan",
    PlanOut,
    "The plan of a broadcast (recipients, skipped, per bot, time); its token confirms it.",
    request=BroadcastIn,
    capability="broadcast",
)
def post_broadcast_plan(ctx: ApiContext, params: BroadcastIn) -> PlanOut:
    return PlanOut.model_validate(outreach.plan_broadcast(ctx, params.filter, params.text))


class ResendIn(ApiModel):
    args: str = Field(default="", max_length=2000)
    """As /resendfailed: `since:DATE`, `channel:NAME`, `interval:SECONDS`, then a filter."""


@API.endpoint(
    "POST",
    "/resend/plan",
    PlanOut,
    "The plan of resending the last bot message to clients whose last message failed (F4).",
    request=ResendIn,
    capability="broadcast",
)
def post_resend_plan(ctx: ApiContext, params: ResendIn) -> PlanOut:
    return PlanOut.model_validate(outreach.plan_resend(ctx, params.args))


class JobProgress(ApiModel):
    id: int
    """The job."""
    kind: str
    """`broadcast` or `resend_failed`."""
    name: str
    """Its kind for a person."""
    state: str
    """pending, running, done, cancelled, failed."""
    active: bool
    """Still sending: it can be cancelled."""
    total: int
    """Clients matched at the start = skipped + sent + failed + cancelled + remaining."""
    sent: int
    """Sent (or delivered, read)."""
    failed: int
    """Failed."""
    skipped: int
    """Blocked or unsubscribed at the start."""
    remaining: int
    """Queued or sending."""
    cancelled: int
    """Removed by a cancel before being sent."""
    planned: int
    """total - skipped."""
    attempted: int
    """sent + failed."""
    percent: int
    """attempted of planned, rounded down."""
    ratio: str
    """`attempted/planned (percent%)`."""
    filter_text: str
    """The filter or arguments it was started with."""
    created_at: str
    """ISO 8601 with the offset."""
    interval_s: float
    """Seconds between sends asked for."""
    error: str | None
    """Why it failed."""


class JobOut(ApiModel):
    job: JobProgress | None
    """The job; none when a resend found nothing left to send."""
    notice: str | None = None
    """What happened, in one line."""


class TokenIn(ApiModel):
    token: str = Field(min_length=1, max_length=64)
    """The plan's token."""


def _job(found: dict[str, Any]) -> JobOut:
    return JobOut.model_validate(found)


@API.endpoint(
    "POST",
    "/broadcast/start",
    JobOut,
    "Send the broadcast a plan showed (once per token, whatever the taps).",
    request=TokenIn,
    capability="broadcast",
)
def post_broadcast_start(ctx: ApiContext, params: TokenIn) -> JobOut:
    return _job(outreach.start_broadcast(ctx, params.token))


@API.endpoint(
    "POST",
    "/resend/start",
    JobOut,
    "Start the resend a plan showed (once per token).",
    request=TokenIn,
    capability="broadcast",
)
def post_resend_start(ctx: ApiContext, params: TokenIn) -> JobOut:
    return _job(outreach.start_resend(ctx, params.token))


class JobsOut(ApiModel):
    jobs: list[JobProgress]
    """The latest jobs, newest first: an operator's own, every job for an admin."""


@API.endpoint("GET", "/jobs", JobsOut, "The latest broadcasts and resends with their progress.")
def get_jobs(ctx: ApiContext, _: object) -> JobsOut:
    return JobsOut(jobs=[JobProgress.model_validate(j) for j in outreach.recent_jobs(ctx)])


class JobIn(ApiModel):
    job_id: int
    """The job."""


@API.endpoint(
    "GET", "/jobs/{job_id}", JobOut, "One job's progress (the app polls it).", request=JobIn
)
def get_job(ctx: ApiContext, params: JobIn) -> JobOut:
    return _job(outreach.job_json(ctx, params.job_id))


@API.endpoint(
    "POST",
    "/jobs/{job_id}/cancel",
    JobOut,
    "Cancel a running job (its starter or an admin): unsent rows are dropped.",
    request=JobIn,
)
def post_job_cancel(ctx: ApiContext, params: JobIn) -> JobOut:
    return _job(outreach.cancel(ctx, params.job_id))
