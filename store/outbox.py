"""The durable outbox: outbound ``Message`` rows are the source of truth for delivery.

Life of a row (``Message.status``)::

    queued --claim--> sending --mark_sent--> sent
       ^                 |------mark_failed--> failed
       |-- retry_later --|      (attempt counted; ``next_attempt_at`` = when to try again)
       |-- defer --------|      (rate limiter said "later"; the attempt is not counted)

The broker (Dramatiq) only carries message ids. It may lose them (Redis keeps nothing on
disk here) or a worker may die mid-send: ``sweep`` finds rows stuck in ``queued`` or
``sending`` for longer than ``stale_after_s`` and hands them back to be enqueued again.
A ``claim`` is one conditional UPDATE, so among any number of workers holding the same id
exactly one sends it.

For a ``queued`` row, ``updated_at`` is the last time the row was handed to the broker and
``next_attempt_at`` the earliest time it may be sent (None: at once). ``take_due`` hands over
rows whose ``next_attempt_at`` has come and that were not handed over since.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import peewee

from store.campaigns.outcomes import KEY_PREFIX, RETURNED, follow, follow_rows
from store.clock import utcnow
from store.db import database_proxy, is_postgres, write_transaction
from store.delivery_status import settle_early_receipts
from store.models import PRIORITIES, PRIORITY_BULK, PRIORITY_INTERACTIVE, Client, Message

OUT_AUTHORS = ("bot", "operator")
# Rows whose dedup key starts so are sent at most once (a campaign's): a send that may have
# arrived (a timeout, a worker dead mid-send) becomes ``uncertain`` instead of being retried.
AT_MOST_ONCE_PREFIX = KEY_PREFIX
# Typed as ``int`` on the model for attribute access; here it is the column.
MESSAGE_ID: Any = Message.id
# A queued row whose ``updated_at`` is before its ``next_attempt_at`` waits to be handed over.
NOT_HANDED_OVER = dt.timedelta(milliseconds=1)


def enqueue(
    client: Client | int,
    text: str = "",
    *,
    bot_id: int | None = None,
    author_kind: str = "bot",
    operator_id: int | None = None,
    subject: str | None = None,
    attachments: Sequence[dict[str, Any]] = (),
    extra: dict[str, Any] | None = None,
    job_id: int | None = None,
    dedup_key: str | None = None,
    not_before: dt.datetime | None = None,
    priority: int | None = None,
    now: dt.datetime | None = None,
) -> Message:
    """Write one outbound message (status ``queued``) and return it.

    Runs inside the caller's transaction when there is one, so the message exists exactly
    when what caused it does. Any running dispatcher (``workers.dispatch``) hands it to the
    broker once it is due: the caller never talks to the broker.
    ``not_before`` (naive UTC) delays the first attempt. ``bot_id`` defaults to the client's bot.
    ``priority`` (the delivery lane) defaults to interactive, bulk for a job's row.
    """
    if author_kind not in OUT_AUTHORS:
        raise ValueError(f"author_kind must be one of {OUT_AUTHORS}, got {author_kind!r}")
    if priority is None:
        priority = PRIORITY_INTERACTIVE if job_id is None else PRIORITY_BULK
    elif priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {PRIORITIES}, got {priority!r}")
    now = now or utcnow()
    if bot_id is None:
        if isinstance(client, Client):
            bot_id = client.bot_id
        else:
            bot_id = Client.select(Client.bot).where(Client.id == client).scalar()
            if bot_id is None:
                from store.errors import NotFound

                raise NotFound(f"no client with id {client}")
    due = not_before or now
    with database_proxy.atomic():
        return Message.create(
            client=client,
            bot=bot_id,
            direction="out",
            author_kind=author_kind,
            operator=operator_id,
            text=text,
            subject=subject,
            attachments=list(attachments),
            extra=extra or {},
            dedup_key=dedup_key,
            job=job_id,
            priority=priority,
            status="queued",
            attempts=0,
            next_attempt_at=due,
            created_at=now,
            updated_at=due - NOT_HANDED_OVER,
        )


def at_most_once(dedup_key: str | None) -> bool:
    """Whether a row with this dedup key must never be sent twice (``AT_MOST_ONCE_PREFIX``)."""
    return bool(dedup_key) and str(dedup_key).startswith(AT_MOST_ONCE_PREFIX)


def once_condition() -> peewee.ColumnBase:
    """SQL: the row is sent at most once (its dedup key starts with ``AT_MOST_ONCE_PREFIX``)."""
    condition: peewee.ColumnBase = Message.dedup_key.startswith(AT_MOST_ONCE_PREFIX)
    return condition


def claim(
    message_id: int, *, worker_id: str | None = None, now: dt.datetime | None = None
) -> Message | None:
    """Take the row for sending: ``queued`` -> ``sending``, ``attempts`` + 1, ``claimed_by``
    = ``worker_id`` (a ``store.leases`` lease; None: only the ``sweep`` recovers it).

    Returns the row for the one caller that won, None for everyone else (already claimed,
    sent, cancelled, deleted, or not due yet).
    """
    now = now or utcnow()
    with write_transaction():
        won = (
            Message.update(
                status="sending",
                attempts=Message.attempts + 1,
                updated_at=now,
                claimed_by=worker_id,
            )
            .where(
                (Message.id == message_id)
                & (Message.status == "queued")
                & (Message.direction == "out")
                & (Message.next_attempt_at.is_null() | (Message.next_attempt_at <= now))
            )
            .execute()
        )
        if won != 1:
            return None
        return Message.get_by_id(message_id)


def _finish(
    message_id: int,
    updates: dict[Any, Any],
    from_: tuple[str, ...] = ("sending",),
    *,
    outcome: bool = False,
) -> bool:
    """One conditional UPDATE of the row; ``outcome``: the update writes the row's outcome
    (sent, failed, uncertain), which its campaign recipient, if any, takes in the same
    transaction (``store.campaigns.outcomes``)."""
    query = Message.update(updates).where(
        (Message.id == message_id) & Message.status.in_(list(from_))
    )
    with write_transaction():
        if not outcome:
            return int(query.execute()) == 1
        written = list(query.returning(*RETURNED).tuples().execute())
        follow_rows(written)
    return len(written) == 1


def mark_sent(message_id: int, platform_message_id: str, *, now: dt.datetime | None = None) -> bool:
    """``sending`` -> ``sent`` with the platform's id; False when the row was not sending.

    A ``queued`` row is marked sent too: the sweep handed it back while this send was still
    in flight (a slow start-up, a slow platform). The platform has it, so it is sent, and
    nobody sends it a second time — unless another worker claimed it meanwhile (then it is
    ``sending`` there, and both sends happen: the duplicate the sweep's docstring admits).

    Receipts the platform posted for that id before this call are applied now
    (``store.delivery_status.settle_early_receipts``).
    """
    done = _finish(
        message_id,
        {
            Message.status: "sent",
            Message.platform_message_id: platform_message_id,
            Message.updated_at: now or utcnow(),
            Message.next_attempt_at: None,
            Message.error_code: None,
            Message.error_text: None,
        },
        from_=("sending", "queued", "uncertain"),
        outcome=True,
    )
    if done:
        settle_early_receipts(platform_message_id)
    return done


def mark_failed(
    message_id: int, error_code: str, error_text: str, *, now: dt.datetime | None = None
) -> bool:
    """``sending`` -> ``failed`` for good, keeping the code and text operators will read."""
    return _finish(
        message_id,
        {
            Message.status: "failed",
            Message.error_code: error_code[:64],
            Message.error_text: error_text,
            Message.updated_at: now or utcnow(),
            Message.next_attempt_at: None,
        },
        outcome=True,
    )


def mark_uncertain(
    message_id: int, error_code: str, error_text: str, *, now: dt.datetime | None = None
) -> bool:
    """``sending`` -> ``uncertain`` for good: the send may have arrived (a timeout) and the row
    is one that must not be sent twice. A late answer that it was sent still wins
    (``mark_sent``)."""
    return _finish(
        message_id,
        {
            Message.status: "uncertain",
            Message.error_code: error_code[:64],
            Message.error_text: error_text,
            Message.updated_at: now or utcnow(),
            Message.next_attempt_at: None,
        },
        outcome=True,
    )


def settle_dead_once(ids: list[int], now: dt.datetime, why: str) -> list[int]:
    """Of ``sending`` rows ``ids`` whose sender is gone, mark the at-most-once ones
    ``uncertain`` (their send may have left); returns the others, to be sent again. Inside
    the caller's write transaction."""
    if not ids:
        return ids
    once: Any = Message.select(Message.id).where(MESSAGE_ID.in_(ids) & once_condition())
    uncertain = [i for (i,) in once.tuples()]
    if uncertain:
        Message.update(
            status="uncertain",
            error_code="worker_died",
            error_text=why,
            next_attempt_at=None,
            updated_at=now,
        ).where(MESSAGE_ID.in_(uncertain) & (Message.status == "sending")).execute()
        follow(MESSAGE_ID.in_(uncertain), now=now)
    gone = set(uncertain)
    return [i for i in ids if i not in gone]


def retry_later(
    message_id: int,
    at: dt.datetime,
    error_code: str,
    error_text: str,
    *,
    now: dt.datetime | None = None,
) -> bool:
    """``sending`` -> ``queued`` again, not before ``at``; the failed attempt stays counted."""
    return _finish(
        message_id,
        {
            Message.status: "queued",
            Message.next_attempt_at: at,
            Message.error_code: error_code[:64],
            Message.error_text: error_text,
            Message.updated_at: now or utcnow(),
        },
    )


def defer(message_id: int, at: dt.datetime, *, now: dt.datetime | None = None) -> bool:
    """``sending`` -> ``queued`` not before ``at`` without counting an attempt (rate limit)."""
    return _finish(
        message_id,
        {
            Message.status: "queued",
            Message.next_attempt_at: at,
            Message.attempts: Message.attempts - 1,
            Message.updated_at: now or utcnow(),
        },
    )


def requeue(
    message_id: int,
    *,
    now: dt.datetime | None = None,
    statuses: tuple[str, ...] = ("queued", "sending", "failed"),
) -> bool:
    """An operator's "send it again now" (the ops dashboard's requeue of a dead letter, its
    Retry now of a failed row): a row in one of ``statuses`` goes back to ``queued``, due now,
    with its attempts reset, stamped handed over (the caller hands it to the broker). False
    when the row is gone, already sent or in none of ``statuses``."""
    now = now or utcnow()
    with write_transaction():
        changed = (
            Message.update(status="queued", attempts=0, next_attempt_at=now, updated_at=now)
            .where(
                (Message.id == message_id)
                & (Message.direction == "out")
                & Message.status.in_(list(statuses))
            )
            .execute()
        )
    return changed == 1


def locked_ids(query: Any) -> list[int]:
    """The ids ``query`` selects, locked for this write transaction on PostgreSQL."""
    if is_postgres():
        # Concurrent dispatchers skip each other's rows instead of handing them over twice.
        query = query.for_update(skip_locked=True)
    return [row.id for row in query]


def take_due(
    *, limit: int = 1000, priority: int | None = None, now: dt.datetime | None = None
) -> list[int]:
    """Ids of ``queued`` rows whose ``next_attempt_at`` has come and that were not handed to
    the broker since it was set; stamps them handed over (``updated_at`` = now), at most
    ``limit`` (default 1000). Only the lane ``priority`` when given; else every lane, the
    interactive one first (a reply never waits behind a broadcast's backlog), earliest first
    within a lane. Safe with several dispatching processes.
    """
    now = now or utcnow()
    ids: list[int] = []
    with write_transaction():
        for lane in PRIORITIES if priority is None else (priority,):
            if len(ids) >= limit:
                break
            # One lane at a time: each is one range of the (status, priority,
            # next_attempt_at) index, however many later rows a broadcast has queued.
            ids += locked_ids(
                Message.select(Message.id)
                .where(
                    (Message.status == "queued")
                    & (Message.priority == lane)
                    & Message.next_attempt_at.is_null(False)
                    & (Message.next_attempt_at <= now)
                    & (Message.updated_at < Message.next_attempt_at)
                )
                .order_by(Message.next_attempt_at, Message.id)
                .limit(limit - len(ids))
            )
        if ids:
            Message.update(updated_at=now).where(MESSAGE_ID.in_(ids)).execute()
    return ids


def lanes_of(ids: Iterable[int]) -> dict[int, list[int]]:
    """``ids`` grouped by their rows' lane (``Message.priority``), each in the given order;
    ids without a row are left out."""
    wanted = list(ids)
    if not wanted:
        return {}
    rows: Any = Message.select(Message.id, Message.priority).where(MESSAGE_ID.in_(wanted))
    lane = {row_id: priority for row_id, priority in rows.tuples()}
    grouped: dict[int, list[int]] = {}
    for message_id in wanted:
        if message_id in lane:
            grouped.setdefault(lane[message_id], []).append(message_id)
    return grouped


def sweep(stale_after_s: float, *, limit: int = 1000, now: dt.datetime | None = None) -> list[int]:
    """Ids of rows stuck for longer than ``stale_after_s`` seconds, to be enqueued again.

    ``sending`` rows (a worker died mid-send) go back to ``queued``; ``queued`` rows handed
    to the broker that long ago and still unclaimed (the broker lost them) are handed over
    again. Both are stamped ``updated_at`` = now, so each is returned once per period.
    A message that was in flight when its worker died may reach the recipient twice: the
    outbox cannot know whether the platform got it.
    """
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=stale_after_s)
    due = Message.next_attempt_at.is_null() | (Message.next_attempt_at <= now)
    with write_transaction():
        stuck = locked_ids(
            Message.select(Message.id)
            .where((Message.status == "sending") & (Message.updated_at < cutoff))
            .order_by(Message.id)
            .limit(limit)
        )
        lost = locked_ids(
            Message.select(Message.id)
            .where((Message.status == "queued") & (Message.updated_at < cutoff) & due)
            .order_by(Message.id)
            .limit(limit)
        )
        stuck = settle_dead_once(stuck, now, f"sending for over {stale_after_s:g} s")
        if stuck:
            Message.update(status="queued", next_attempt_at=None, updated_at=now).where(
                MESSAGE_ID.in_(stuck) & (Message.status == "sending")
            ).execute()
        if lost:
            Message.update(updated_at=now).where(MESSAGE_ID.in_(lost)).execute()
    return stuck + lost


def counts_by_status(bot_ids: Iterable[int] | None = None) -> dict[str, int]:
    """Outbound rows per status (``queued``, ``sending``, ``sent``, ``failed``, ...)."""
    # Rows without a status are not counted: saying so lets the outbox index serve (1921).
    query = Message.select(Message.status, peewee.fn.COUNT(Message.id).alias("n")).where(
        (Message.direction == "out") & Message.status.is_null(False)
    )
    if bot_ids is not None:
        query = query.where(Message.bot.in_(list(bot_ids)))
    rows: Any = query.group_by(Message.status).tuples()
    return {status: n for status, n in rows if status}


def oldest_queued_age_s(now: dt.datetime | None = None) -> float:
    """Seconds since the oldest ``queued`` outbound row was created; 0.0 with none queued."""
    oldest = (
        Message.select(peewee.fn.MIN(Message.created_at))
        .where((Message.direction == "out") & (Message.status == "queued"))
        .scalar()
    )
    if oldest is None:
        return 0.0
    if isinstance(oldest, str):  # SQLite hands an aggregate back as text
        oldest = dt.datetime.fromisoformat(oldest)
    return max(0.0, ((now or utcnow()) - oldest).total_seconds())


CANCELLED = "cancelled"  # the error code of a row an operator cancelled before it was sent


def latest_errors(
    limit: int = 20,
    *,
    bot_id: int | None = None,
    code: str | None = None,
    since: dt.datetime | None = None,
    job_id: int | None = None,
) -> list[Message]:
    """The most recently failed or retried outbound rows that carry an error, newest first;
    only ``bot_id``'s, only those with error ``code``, only those whose error is from
    ``since`` (naive UTC) on, only job ``job_id``'s, when given."""
    query = Message.select().where((Message.direction == "out") & Message.error_code.is_null(False))
    if bot_id is not None:
        query = query.where(Message.bot == bot_id)
    if code is not None:
        query = query.where(Message.error_code == code)
    if since is not None:
        query = query.where(Message.updated_at >= since)
    if job_id is not None:
        query = query.where(Message.job == job_id)
    return list(query.order_by(Message.updated_at.desc(), MESSAGE_ID.desc()).limit(limit))


def error_codes(limit: int = 50) -> list[str]:
    """The error codes outbound rows carry, most frequent first (for the filter's choices)."""
    rows: Any = (
        Message.select(Message.error_code, peewee.fn.COUNT(MESSAGE_ID).alias("n"))
        .where((Message.direction == "out") & Message.error_code.is_null(False))
        .group_by(Message.error_code)
        .order_by(peewee.SQL("n").desc(), Message.error_code)
        .limit(limit)
        .tuples()
    )
    return [code for code, _ in rows]


def cancel_queued(
    message_ids: Iterable[int],
    *,
    statuses: tuple[str, ...] = ("queued",),
    now: dt.datetime | None = None,
) -> list[int]:
    """An operator's Cancel: rows in ``statuses`` (``queued``: not being sent now) become
    ``failed`` with error code ``CANCELLED``, so no worker claims them (a claim needs
    ``queued``) and the sweep leaves them; Retry now sends one after all. Returns the ids that
    changed (a row sent or claimed meanwhile does not)."""
    ids = list(message_ids)
    if not ids:
        return []
    now = now or utcnow()
    with write_transaction():
        changed = locked_ids(
            Message.select(Message.id).where(
                MESSAGE_ID.in_(ids)
                & (Message.direction == "out")
                & Message.status.in_(list(statuses))
            )
        )
        if changed:
            Message.update(
                status="failed",
                error_code=CANCELLED,
                error_text="cancelled on /ops before it was sent",
                next_attempt_at=None,
                updated_at=now,
            ).where(MESSAGE_ID.in_(changed) & Message.status.in_(list(statuses))).execute()
            follow(MESSAGE_ID.in_(changed), now=now)
    return changed
