"""/broadcast (two steps: the filter, then the message, then Send), /resendfailed (F4: its
plan, then Resend) and /jobs.

Jobs are ``store.jobs`` rows; the delivery engine sends their outbox rows at the bots' pace.
Starting one answers with its live progress (``Reply.live``) and a Cancel button
(``commands.admin.progress``); /jobs shows the same figures and buttons on demand. Operators
see their own jobs; admins every job.
"""

from __future__ import annotations

from typing import Any, Final

from commands.admin import pending, tokens
from commands.admin.clients import parse
from commands.admin.context import CommandContext, CommandError
from commands.admin.progress import progress_reply, render_progress
from commands.admin.registry import ADMIN_COMMANDS
from commands.admin.reply import Button, Reply
from commands.plan import broadcast_plan, render, resend_plan, start_broadcast, steps
from store import jobs
from store.clients.query import count_clients, select_clients
from store.errors import NotFound
from store.filters import FilterError
from store.filters.resolve import parse_day, start_of_day
from store.filters.syntax import tokenize
from store.models import Job

MAX_INTERVAL_S: Final = 3600.0  # seconds between resends, at most
JOBS_SHOWN: Final = 10


def _pressed(ctx: CommandContext, payload: str, kind: str) -> dict[str, Any] | None:
    """The state behind a confirm button (payload ``TOKEN:y``), None for its Cancel
    (``TOKEN:n``); either press spends the token."""
    token, _, action = payload.partition(":")
    state = tokens.take_confirmation(ctx, token, kind)
    return state if action == "y" else None


def started(job_id: int, *, edit: bool) -> Reply:
    """The answer to starting a job: its live progress (``commands.admin.progress``), which
    the admin bot keeps refreshing, with Cancel, until the job ends."""
    reply = progress_reply(job_id)
    reply.edit = edit
    return reply


@ADMIN_COMMANDS.command("jobs", "/jobs", "Broadcasts and resends: progress, and Cancel.")
def jobs_command(ctx: CommandContext, args: str) -> Reply:
    if args:
        raise CommandError("/jobs takes no arguments.")
    query = Job.select(Job.id).order_by(Job.id.desc()).limit(JOBS_SHOWN)
    if not ctx.is_admin:
        query = query.where(Job.created_by == ctx.operator.id)
    ids = [job.id for job in query]
    if not ids:
        return Reply("No jobs yet. /broadcast or /resendfailed start one.")
    replies = [render_progress(p) for p in jobs.progress_many(ids)]
    rows = [row for r in replies for row in r.buttons]
    return Reply("\n\n".join(r.text for r in replies), rows)


@ADMIN_COMMANDS.command(
    "broadcast",
    "/broadcast FILTER...",
    "Send one message to every client matching FILTER: you send the text next, then confirm.",
    capability="broadcast",
)
def broadcast_command(ctx: CommandContext, args: str) -> Reply:
    if not args:
        raise CommandError("Give a filter (tab:all for everyone you may write to).")
    flt = parse(ctx, args)
    total = count_clients(flt, ctx.operator)
    if total == 0:
        raise CommandError("No clients match this filter: nothing to send.")
    pending.wait_for(ctx.operator.id, "broadcast", {"f": args})
    return Reply(
        f"{total} clients match {args!r}. Send the message to broadcast now, or /cancel.\n"
        "You will see the count again and confirm before anything is sent."
    )


@ADMIN_COMMANDS.awaiting("broadcast", capability="broadcast")
def broadcast_text(ctx: CommandContext, text: str, data: dict[str, Any]) -> Reply:
    if len(text) > 4096:
        raise CommandError(f"The message has {len(text)} characters; at most 4096.")
    flt = parse(ctx, data["f"])
    plan = broadcast_plan(ctx.settings, select_clients(flt, ctx.operator))
    pending.clear(ctx.operator.id)
    shown = f"{render(plan)}\nFilter {data['f']!r}. The message:\n\n{text}"
    if not plan.recipients:
        return Reply(shown + "\n\nNothing to send: every matching client is skipped.")
    token = tokens.put(ctx.operator.id, "broadcast", {"f": data["f"], "text": text})
    return Reply(
        shown,
        [[Button("📣 Send", data=f"bc:{token}:y"), Button("Cancel", data=f"bc:{token}:n")]],
    )


@ADMIN_COMMANDS.button("bc", capability="broadcast")
def broadcast_button(ctx: CommandContext, payload: str) -> Reply:
    state = _pressed(ctx, payload, "broadcast")
    if state is None:
        return Reply("Broadcast cancelled: nothing was sent.", edit=True)
    return started(broadcast_confirmed(ctx, state).id, edit=True)


def broadcast_confirmed(ctx: CommandContext, state: dict[str, Any]) -> Job:
    """Start the broadcast a plan showed (``state``: its filter ``f`` and ``text``), filtered
    again now; the admin bot's Send and the Mini App's both come here."""
    flt = parse(ctx, state["f"])
    return start_broadcast(
        ctx.settings,
        select_clients(flt, ctx.operator),
        state["text"],
        filter_text=state["f"],
        operator_id=ctx.operator.id,
    )


@ADMIN_COMMANDS.command(
    "resendfailed",
    "/resendfailed [since:DATE] [channel:NAME] [interval:SECONDS] [FILTER...]",
    "Resend the last bot message to every client whose last message failed: you see "
    "the plan, then confirm.",
    capability="broadcast",
)
def resendfailed_command(ctx: CommandContext, args: str) -> Reply:
    resend = resend_arguments(ctx, args)
    plan = resend_plan(ctx.settings, **resend)
    if not plan.matched:
        return Reply("No client's last message failed: nothing to resend.")
    if not plan.recipients:
        return Reply(f"{render(plan)}\nNothing to send: every one of them is skipped.")
    token = tokens.put(ctx.operator.id, "resendfailed", {"args": args})
    return Reply(
        render(plan),
        [[Button("🔁 Resend", data=f"rf:{token}:y"), Button("Cancel", data=f"rf:{token}:n")]],
    )


@ADMIN_COMMANDS.button("rf", capability="broadcast")
def resendfailed_button(ctx: CommandContext, payload: str) -> Reply:
    state = _pressed(ctx, payload, "resendfailed")
    if state is None:
        return Reply("Resend cancelled: nothing was sent.", edit=True)
    job = resend_confirmed(ctx, state["args"])
    if job is None:
        return Reply("Nothing is left to resend: nothing was sent.", edit=True)
    return started(job.id, edit=True)


def resend_confirmed(ctx: CommandContext, args: str) -> Job | None:
    """Start the resend a plan showed (its arguments ``args``); None when nothing is left to
    resend. The admin bot's Resend and the Mini App's both come here."""
    job = jobs.create_resend_failed(
        **resend_arguments(ctx, args),
        steps=steps(ctx.settings),
        filter_text=args,
        operator_id=ctx.operator.id,
    )
    if job.total == job.skipped:  # they were resent or answered since the plan
        Job.delete().where(Job.id == job.id).execute()  # an empty job would only clutter /jobs
        return None
    return job


def resend_arguments(ctx: CommandContext, args: str) -> dict[str, Any]:
    """/resendfailed's arguments as ``create_resend_failed`` and ``resend_plan`` take them:
    ``clients``, ``since``, ``bot_ids``, ``interval_s``; ``CommandError`` for a bad one."""
    options, rest = _split_options(args, ("since", "channel", "interval"))
    since_at = None
    if "since" in options:
        try:
            day = parse_day(options["since"], token=f"since:{options['since']}")
        except FilterError as exc:
            raise CommandError(str(exc)) from None
        since_at = start_of_day(day, ctx.settings.zone)
    bot_ids = None
    if "channel" in options:
        try:
            bot_ids = jobs.channel_bot_ids(options["channel"])
        except NotFound as exc:
            raise CommandError(f"channel:{options['channel']}: {exc}.") from None
    interval = 0.0
    if "interval" in options:
        try:
            interval = float(options["interval"])
        except ValueError:
            interval = -1.0
        if not 0 <= interval <= MAX_INTERVAL_S:
            raise CommandError(
                f"interval:{options['interval']}: seconds from 0 to {MAX_INTERVAL_S:g}."
            )
    flt = parse(ctx, rest)
    clients = select_clients(flt, ctx.operator) if rest or not ctx.is_admin else None
    return {"clients": clients, "since": since_at, "bot_ids": bot_ids, "interval_s": interval}


def _split_options(args: str, keys: tuple[str, ...]) -> tuple[dict[str, str], str]:
    """Pull ``key:value`` options out of ``args``; the rest is the filter text."""
    options: dict[str, str] = {}
    rest: list[str] = []
    try:
        terms = tokenize(args)
    except FilterError as exc:
        raise CommandError(str(exc)) from None
    for term in terms:
        if term.key in keys and not term.negated:
            if term.key in options:
                raise CommandError(f"{term.key}: given twice.")
            value = term.text().strip()
            if not value:
                raise CommandError(f"{term.token}: empty value.")
            options[term.key] = value
        else:
            rest.append(term.token)
    return options, " ".join(rest)
