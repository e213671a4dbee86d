"""Bulk sends from the shell: ``broadcast``, ``resend-failed`` and ``jobs list|show|cancel``.

They only write the store; whichever process dispatches (``serve`` in ``memory://`` mode,
``switchboard worker`` in ``redis://`` mode) picks the job's rows up within a tick.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import click

from commands.acting import WORDS, FilterCommand, one_line_errors, open_settings, viewer_for
from commands.cli import CliContext, cli, pass_context
from commands.confirm import dry_run_option, gate, yes_option
from commands.plan import broadcast_plan, resend_plan, start_broadcast, steps
from config import Settings
from store.clock import shown, to_utc

if TYPE_CHECKING:
    from store.jobs import Progress


def _open(obj: CliContext) -> Settings:
    return open_settings(obj)


def _started(job_id: int, recipients: int) -> None:
    click.echo(
        f"Started job {job_id} ({recipients} recipients): "
        f"./switchboard jobs show {job_id} for progress, ./switchboard jobs cancel {job_id} "
        "to stop it."
    )


LIST_HEADER = (
    "id\tkind\tstate\tprogress\ttotal\tsent\tfailed\tskipped\tcancelled\tremaining\tstarted"
)


def show_line(p: Progress, zone: dt.tzinfo) -> str:
    """``jobs show``: every figure of ``p`` and its progress (docs/operations.md)."""
    return (
        f"job {p.id} {p.kind} {p.state}, started {shown(p.created_at, zone)}: "
        f"total {p.total}, sent {p.sent}, failed {p.failed}, skipped {p.skipped}, "
        f"cancelled {p.cancelled}, remaining {p.remaining}; progress {p.ratio}"
    )


def list_line(p: Progress, zone: dt.tzinfo) -> str:
    """A row of ``jobs list`` under ``LIST_HEADER`` (tab-separated)."""
    figures = (p.total, p.sent, p.failed, p.skipped, p.cancelled, p.remaining)
    cells = [str(p.id), p.kind, p.state, p.ratio, *map(str, figures)]
    return "\t".join([*cells, shown(p.created_at, zone)])


def _print_progress(settings: Settings, job_id: int, as_json: bool) -> None:
    from store.jobs import progress

    p = progress(job_id)
    if as_json:
        click.echo(json.dumps(p.as_json(settings.zone), ensure_ascii=False))
        return
    click.echo(show_line(p, settings.zone))


@cli.command("broadcast", cls=FilterCommand, context_settings=WORDS)
@click.argument("filter_words", nargs=-1, type=click.UNPROCESSED)
@click.option("--text", required=True, help="The message to send.")
@click.option("--as", "as_id", type=int, default=None, help="Telegram id of the operator.")
@yes_option
@dry_run_option
@pass_context
def broadcast_command(
    obj: CliContext,
    filter_words: tuple[str, ...],
    text: str,
    as_id: int | None,
    yes: bool,
    dry_run: bool,
) -> None:
    """Send TEXT to every client matching FILTER as a job: prints the plan (recipients,
    skipped, per bot its limit and time), asks to confirm on a terminal, then starts the job."""
    from store.clients.query import select_clients
    from store.filters import parse_filter

    settings = _open(obj)
    viewer = viewer_for(settings, as_id, "broadcast")
    filter_text = " ".join(filter_words)
    with one_line_errors():
        flt = parse_filter(filter_text, viewer, settings.zone)
    if not text.strip():
        raise click.ClickException("--text is empty")
    plan = broadcast_plan(settings, select_clients(flt, viewer))
    if not gate(plan, yes=yes, dry_run=dry_run, action="send"):
        return
    job = start_broadcast(
        settings, select_clients(flt, viewer), text, filter_text=filter_text, operator_id=viewer.id
    )
    _started(job.id, job.total - job.skipped)


@cli.command("resend-failed", cls=FilterCommand, context_settings=WORDS)
@click.argument("filter_words", nargs=-1, type=click.UNPROCESSED)
@click.option("--since", default=None, help="Only errors since this day (YYYY-MM-DD).")
@click.option("--channel", default=None, help="Only this messenger or bot name.")
@click.option("--interval", type=click.FloatRange(min=0), default=0.0, help="Seconds apart.")
@click.option("--as", "as_id", type=int, default=None, help="Telegram id of the operator.")
@yes_option
@dry_run_option
@pass_context
def resend_failed_command(
    obj: CliContext,
    filter_words: tuple[str, ...],
    since: str | None,
    channel: str | None,
    interval: float,
    as_id: int | None,
    yes: bool,
    dry_run: bool,
) -> None:
    """Resend the last bot message to every client whose last outgoing message failed: prints
    the plan, asks to confirm on a terminal, then starts the job."""
    from store.clients.query import select_clients
    from store.errors import NotFound
    from store.filters import parse_filter
    from store.jobs import channel_bot_ids, create_resend_failed

    settings = _open(obj)
    viewer = viewer_for(settings, as_id, "broadcast")
    since_at = None
    if since is not None:
        try:
            day = dt.date.fromisoformat(since)
        except ValueError:
            raise click.ClickException(
                f"--since {since!r}: expected a day like 2026-05-23"
            ) from None
        since_at = to_utc(dt.datetime.combine(day, dt.time(), tzinfo=settings.zone))
    bot_ids = None
    if channel is not None:
        try:
            bot_ids = channel_bot_ids(channel)
        except NotFound as exc:
            raise click.ClickException(f"--channel {channel!r}: {exc}") from None
    filter_text = " ".join(filter_words)
    with one_line_errors():
        flt = parse_filter(filter_text, viewer, settings.zone)
    clients = select_clients(flt, viewer) if filter_text.strip() or not viewer.is_admin else None
    plan = resend_plan(settings, clients, since=since_at, bot_ids=bot_ids, interval_s=interval)
    if not gate(plan, yes=yes, dry_run=dry_run, action="resend"):
        return
    job = create_resend_failed(
        clients,
        steps=steps(settings),
        since=since_at,
        bot_ids=bot_ids,
        interval_s=interval,
        filter_text=filter_text,
        operator_id=viewer.id,
    )
    _started(job.id, job.total - job.skipped)


@cli.group("jobs")
def jobs_group() -> None:
    """Broadcast and resend-failed jobs: progress and cancel."""


@jobs_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
def jobs_list(obj: CliContext, as_json: bool) -> None:
    """The latest jobs, newest first."""
    from store.jobs import list_jobs

    settings = _open(obj)
    jobs = list_jobs()
    if not as_json and jobs:
        click.echo(LIST_HEADER)
    for p in jobs:
        if as_json:
            click.echo(json.dumps(p.as_json(settings.zone), ensure_ascii=False))
        else:
            click.echo(list_line(p, settings.zone))


@jobs_group.command("show")
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_context
def jobs_show(obj: CliContext, job_id: int, as_json: bool) -> None:
    """State and progress of job JOB_ID."""
    _print_progress(_open(obj), job_id, as_json)


@jobs_group.command("cancel")
@click.argument("job_id", type=int)
@pass_context
def jobs_cancel(obj: CliContext, job_id: int) -> None:
    """Cancel job JOB_ID: nothing more is sent; sends in progress finish."""
    from store.jobs import cancel

    settings = _open(obj)
    cancel(job_id)
    _print_progress(settings, job_id, False)
