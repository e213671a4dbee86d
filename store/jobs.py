"""Bulk sends as jobs: broadcast and resend-failed (F4), with progress and cancel.

Creating a job writes the ``Job`` row and all of its outbox rows in one transaction with one
``INSERT ... SELECT`` (no Python loop over clients). Each bot's rows are spaced ``step_s``
apart in ``next_attempt_at`` (row number within the bot times the step), so the dispatcher
hands them to the broker at the pace they can be sent and a job of 100,000 rows never floods
the broker. Blocked (by us) and unsubscribed clients are skipped and counted.

Progress (``Progress``, the one rule every front end renders: docs/operations.md, "Job
progress") splits the clients the job matched at its start (``total``) into five parts that
always add up to it: ``skipped`` (blocked or unsubscribed at the start, no row), ``sent``
(sent, delivered, read), ``failed``, ``remaining`` (queued or sending) and ``cancelled`` (rows
removed by a cancel before they were sent). The share done is ``attempted`` (sent + failed) of
``planned`` (total - skipped): a cancelled job stops short of 100 %. Cancelling deletes the
job's rows not yet claimed; messages already being sent finish. ``progress_many`` reads any
number of jobs with two queries (the jobs, and their rows counted per job and status).

A job's rows travel in its lane (``Job.priority``, bulk by default): the dispatcher and the
senders let interactive rows (an operator's reply) pass them (docs/operations.md, lanes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import peewee as pw

from store.clock import iso_local, utcnow
from store.db import database_proxy, is_postgres, write_transaction
from store.errors import NotFound, StoreError
from store.fields import JSONField
from store.models import Bot, Client, Job, Message
from store.outbox import NOT_HANDED_OVER, OUT_AUTHORS
from store.plan import wrote_since

CLIENT_ID: Any = Client.id
MESSAGE_ID: Any = Message.id
SENT_STATUSES = ("sent", "delivered", "read")
ACTIVE_STATES = ("pending", "running")


@dataclass(frozen=True, slots=True)
class Progress:
    """A job's figures: ``total`` = ``skipped + sent + failed + cancelled + remaining``, always.

    ``total``: clients the job's filter matched at its start; ``skipped``: of them, blocked or
    unsubscribed (never queued); ``cancelled``: queued, then removed by a cancel before being
    sent (so the job reads the same before and after its rows are gone).
    """

    id: int
    kind: str
    state: str
    total: int
    sent: int
    failed: int
    skipped: int
    remaining: int
    cancelled: int
    interval_s: float
    filter_text: str
    created_at: dt.datetime  # naive UTC, as stored
    error: str | None

    @property
    def planned(self) -> int:
        """Messages the job set out to send: ``total - skipped``."""
        return self.total - self.skipped

    @property
    def attempted(self) -> int:
        """Messages with an outcome: ``sent + failed``."""
        return self.sent + self.failed

    @property
    def percent(self) -> int:
        """``attempted`` of ``planned`` in whole percent, rounded down (100 only when nothing
        is left or cancelled; a job with nothing planned is 100)."""
        if self.planned <= 0:
            return 100
        return 100 * self.attempted // self.planned

    @property
    def ratio(self) -> str:
        """``attempted/planned (percent%)``, e.g. ``84/314 (26%)``: how every front end
        writes the share done."""
        return f"{self.attempted}/{self.planned} ({self.percent}%)"

    def as_json(self, zone: dt.tzinfo) -> dict[str, Any]:
        """For machines: the figures plus ``planned``, ``attempted`` and ``percent``;
        ``created_at`` ISO 8601 with the offset in ``zone``."""
        derived = {"planned": self.planned, "attempted": self.attempted, "percent": self.percent}
        return asdict(self) | derived | {"created_at": iso_local(self.created_at, zone)}


def _next_attempt(start: dt.datetime, steps: dict[int, float]) -> pw.Node:
    """``start + (row number within the bot - 1) * step of the bot`` as SQL."""
    row_number = pw.fn.ROW_NUMBER().over(partition_by=[Client.bot], order_by=[CLIENT_ID])
    step: pw.Node = pw.Value(0.0)
    if steps:
        step = pw.Case(Client.bot, [(bot_id, float(s)) for bot_id, s in steps.items()], 0.0)
    offset = (row_number - 1) * step
    if is_postgres():
        return pw.SQL("%s::timestamp", [start]) + offset * pw.SQL("interval '1 second'")
    seconds = offset / 86400.0
    # SQLite keeps datetimes as text: write the same shape Python does (microseconds).
    return pw.fn.strftime("%Y-%m-%d %H:%M:%f", pw.fn.julianday(start) + seconds).concat("000")


def _insert_rows(
    job: Job,
    clients: pw.ModelSelect[Client],
    *,
    text: Any,
    subject: Any,
    attachments: Any,
    extra: Any,
    steps: dict[int, float],
    now: dt.datetime,
) -> int:
    """Insert one queued outbox row per client of ``clients`` (which may join other tables
    to supply ``text`` and friends as expressions). Returns the number of rows."""
    start = now
    query = clients.select(
        CLIENT_ID,
        Client.bot,
        pw.Value("out"),
        pw.Value("bot"),
        text,
        subject,
        attachments,
        extra,
        pw.Value("queued"),
        pw.Value(0),
        _next_attempt(start, steps),
        pw.Value(now),
        pw.Value(start - NOT_HANDED_OVER),
        pw.Value(job.id),
        pw.Value(job.priority),
    )
    fields = [
        Message.client,
        Message.bot,
        Message.direction,
        Message.author_kind,
        Message.text,
        Message.subject,
        Message.attachments,
        Message.extra,
        Message.status,
        Message.attempts,
        Message.next_attempt_at,
        Message.created_at,
        Message.updated_at,
        Message.job,
        Message.priority,
    ]
    return int(Message.insert_from(query, fields).as_rowcount().execute())


def _reachable() -> pw.ColumnBase:
    return (Client.blocked == False) & (Client.unsubscribed == False)  # noqa: E712


def create_broadcast(
    clients: pw.ModelSelect[Client],
    text: str,
    *,
    steps: dict[int, float],
    filter_text: str = "",
    operator_id: int | None = None,
    subject: str | None = None,
    templates: dict[int, tuple[str, dict[str, Any]]] | None = None,
    window_since: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Job:
    """A broadcast of ``text`` to every client of ``clients`` (a ``Client`` query, e.g. a
    filter's ``select_clients``); ``steps`` maps bot id -> seconds between its messages.

    ``templates`` maps a (WhatsApp) bot id to the ``(text, extra)`` its clients get instead
    when they have not written since ``window_since`` (the window is closed: free text would
    be refused); decided per row in the same ``INSERT ... SELECT``."""
    if not text.strip():
        raise StoreError("the broadcast text is empty")
    now = now or utcnow()
    matching = clients.select(CLIENT_ID)
    with write_transaction():
        total = Client.select().where(CLIENT_ID.in_(matching)).count()
        job = Job.create(
            kind="broadcast",
            state="running",
            filter_text=filter_text,
            payload={"text": text, "subject": subject},
            total=total,
            interval_s=max(steps.values(), default=0.0),
            created_by=operator_id,
            created_at=now,
            updated_at=now,
        )
        text_sql, extra_sql = _window_aware(text, templates or {}, window_since)
        rows = _insert_rows(
            job,
            Client.select().where(CLIENT_ID.in_(matching) & _reachable()),
            text=text_sql,
            subject=pw.Value(subject),
            attachments=pw.Value("[]"),
            extra=extra_sql,
            steps=steps,
            now=now,
        )
        job.skipped = total - rows
        job.state = "running" if rows else "done"
        job.save()
    return job


def _window_aware(
    text: str,
    templates: dict[int, tuple[str, dict[str, Any]]],
    window_since: dt.datetime | None,
) -> tuple[pw.Node, pw.Node]:
    """The ``text`` and ``extra`` columns of a broadcast's rows as SQL: ``text`` and ``{}``,
    or a bot's template where its client's window is closed."""
    if not templates or window_since is None:
        return pw.Value(text), pw.Value("{}")
    closed = ~wrote_since(window_since)
    texts = [((Client.bot == bot) & closed, t) for bot, (t, _) in templates.items()]
    extras = [
        ((Client.bot == bot) & closed, JSONField().db_value(extra))
        for bot, (_, extra) in templates.items()
    ]
    return pw.Case(None, texts, text), pw.Case(None, extras, "{}")


def resend_target(
    clients: pw.ModelSelect[Client] | None,
    *,
    since: dt.datetime | None = None,
    bot_ids: list[int] | None = None,
) -> pw.ColumnBase:
    """F4's clients as a condition on ``Client``: those whose last outgoing message failed
    (since ``since``, of the bots ``bot_ids``) and who have a bot message to resend, among
    ``clients`` (None: all)."""
    # Internal comments are stored as outgoing rows without a status: they are not messages
    # the client was sent, so they neither hide nor count as the last outgoing message.
    last_out = (
        Message.select(Message.client, pw.fn.MAX(MESSAGE_ID).alias("last_id"))
        .where((Message.direction == "out") & Message.author_kind.in_(OUT_AUTHORS))
        .group_by(Message.client)
        .alias("last_out")
    )
    failed_last = Message.alias("failed_last")
    conditions = failed_last.status == "failed"
    if since is not None:
        conditions &= failed_last.updated_at >= since
    if bot_ids is not None:
        conditions &= failed_last.bot.in_(bot_ids)
    failed_clients = (
        failed_last.select(failed_last.client)
        .join(last_out, on=(failed_last.id == last_out.c.last_id))
        .where(conditions)
    )
    # Only clients with a bot message to resend count.
    resendable = Message.select(Message.client).where(
        (Message.direction == "out") & (Message.author_kind == "bot")
    )
    target: pw.ColumnBase = CLIENT_ID.in_(failed_clients) & CLIENT_ID.in_(resendable)
    if clients is not None:
        target &= CLIENT_ID.in_(clients.select(CLIENT_ID))
    return target


def create_resend_failed(
    clients: pw.ModelSelect[Client] | None,
    *,
    steps: dict[int, float],
    since: dt.datetime | None = None,
    bot_ids: list[int] | None = None,
    interval_s: float = 0.0,
    filter_text: str = "",
    operator_id: int | None = None,
    now: dt.datetime | None = None,
) -> Job:
    """F4: for every client whose last outgoing message failed (since ``since``, of the bots
    ``bot_ids``, among ``clients``), send their last bot message again, ``interval_s`` apart
    (never faster than the bot's own ``steps``)."""
    now = now or utcnow()
    target = resend_target(clients, since=since, bot_ids=bot_ids)
    last_bot = (
        Message.select(Message.client, pw.fn.MAX(MESSAGE_ID).alias("last_id"))
        .where((Message.direction == "out") & (Message.author_kind == "bot"))
        .group_by(Message.client)
        .alias("last_bot")
    )
    effective = {bot: max(step, interval_s) for bot, step in steps.items()}
    source = Message.alias("source")
    with write_transaction():
        total = Client.select().where(target).count()
        job = Job.create(
            kind="resend_failed",
            state="running",
            filter_text=filter_text,
            payload={"since": since.isoformat() if since else None, "bots": bot_ids},
            total=total,
            interval_s=interval_s,
            created_by=operator_id,
            created_at=now,
            updated_at=now,
        )
        rows = _insert_rows(
            job,
            Client.select()
            .join(last_bot, on=(last_bot.c.client_id == CLIENT_ID))
            .join(source, on=(source.id == last_bot.c.last_id))
            .where(target & _reachable()),
            text=source.text,
            subject=source.subject,
            attachments=source.attachments,
            extra=source.extra,
            steps=effective,
            now=now,
        )
        job.skipped = total - rows
        job.state = "running" if rows else "done"
        job.save()
    return job


def _counts(job_ids: list[int]) -> dict[int, dict[str, int]]:
    """Rows of each job counted per status, in one grouped query."""
    counts: dict[int, dict[str, int]] = {i: {} for i in job_ids}
    if not job_ids:
        return counts
    rows: Any = (
        Message.select(Message.job, Message.status, pw.fn.COUNT(MESSAGE_ID))
        .where(Message.job.in_(job_ids))
        .group_by(Message.job, Message.status)
        .tuples()
    )
    for job_id, status, n in rows:
        counts[job_id][status] = n
    return counts


def _progress(job: Job, counts: dict[str, int]) -> Progress:
    sent = sum(counts.get(s, 0) for s in SENT_STATUSES)
    failed = counts.get("failed", 0)
    remaining = counts.get("queued", 0) + counts.get("sending", 0)
    # Rows that are gone (a cancel deletes them) were neither sent nor failed.
    cancelled = max(0, job.total - job.skipped - sent - failed - remaining)
    return Progress(
        id=job.id,
        kind=job.kind,
        state=job.state,
        # Never below its parts, so they always add up (a row added to the job by hand).
        total=max(job.total, job.skipped + sent + failed + remaining),
        sent=sent,
        failed=failed,
        skipped=job.skipped,
        remaining=remaining,
        cancelled=cancelled,
        interval_s=job.interval_s,
        filter_text=job.filter_text,
        created_at=job.created_at,
        error=job.error,
    )


def _read(selected: list[Job]) -> list[Progress]:
    counts = _counts([j.id for j in selected])
    return [_progress(j, counts[j.id]) for j in selected]


def progress_many(job_ids: list[int]) -> list[Progress]:
    """The progress of the jobs ``job_ids`` that exist, in the order given (two queries)."""
    found = {j.id: j for j in Job.select().where(Job.id.in_(job_ids))} if job_ids else {}
    return _read([found[i] for i in job_ids if i in found])


def progress(job_id: int) -> Progress:
    """One job's progress; ``NotFound`` when there is no such job."""
    found = progress_many([job_id])
    if not found:
        raise NotFound(f"no job with id {job_id}")
    return found[0]


def list_jobs(limit: int = 50) -> list[Progress]:
    """The latest ``limit`` jobs' progress, newest first (two queries)."""
    return _read(list(Job.select().order_by(Job.id.desc()).limit(limit)))


def cancel(job_id: int, *, now: dt.datetime | None = None) -> Progress:
    """Stop a job: its rows not yet claimed are removed, sends in progress finish."""
    now = now or utcnow()
    with write_transaction():
        job = Job.get_or_none(Job.id == job_id)
        if job is None:
            raise NotFound(f"no job with id {job_id}")
        if job.state in ACTIVE_STATES:
            Message.delete().where((Message.job == job.id) & (Message.status == "queued")).execute()
            Job.update(cancel_requested=True, state="cancelled", updated_at=now).where(
                Job.id == job.id
            ).execute()
    return progress(job_id)


def refresh_running(now: dt.datetime | None = None) -> None:
    """Copy the running jobs' progress into their rows and finish the ones with nothing left."""
    now = now or utcnow()
    active = [j.id for j in Job.select(Job.id).where(Job.state.in_(ACTIVE_STATES))]
    for p in progress_many(active):
        updates: dict[Any, Any] = {Job.sent: p.sent, Job.failed: p.failed, Job.updated_at: now}
        if p.remaining == 0:
            updates[Job.state] = "done"
        with database_proxy.atomic():
            Job.update(updates).where((Job.id == p.id) & Job.state.in_(ACTIVE_STATES)).execute()


def channel_bot_ids(channel: str) -> list[int]:
    """The bots of a messenger (``telegram``, ``whatsapp``, ``email``) or the bot named
    ``channel``; ``NotFound`` listing the messengers and bots there are."""
    ids = [b.id for b in Bot.select(Bot.id).where((Bot.kind == channel) | (Bot.name == channel))]
    if not ids:
        known = sorted({b.kind for b in Bot.select()} | {b.name for b in Bot.select()})
        raise NotFound(f"no such messenger or bot ({', '.join(known) or 'none'})")
    return ids


def bots_by_id() -> dict[int, tuple[str, str]]:
    return {b.id: (b.name, b.kind) for b in Bot.select()}
