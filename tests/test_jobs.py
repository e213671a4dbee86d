"""Broadcast and resend-failed jobs in the store: set-based creation, pacing, progress, cancel."""

from __future__ import annotations

import datetime as dt

import peewee
import pytest

from store import jobs, outbox
from store.clock import utcnow
from store.errors import NotFound, StoreError
from store.inbound import get_or_create_client
from store.models import Bot, Client, Message
from store.setup import sync_bots


def _due(row: Message) -> dt.datetime:
    """A queued row's send time (every queued row has one)."""
    assert row.next_attempt_at is not None, row.id
    return row.next_attempt_at


def _setup(n: int = 5) -> tuple[Bot, Bot, list[Client]]:
    sync_bots([("tg", "telegram"), ("wa", "whatsapp")])
    tg = Bot.get(Bot.name == "tg")
    wa = Bot.get(Bot.name == "wa")
    clients = [get_or_create_client(tg, str(100 + i))[0] for i in range(n)]
    clients += [get_or_create_client(wa, f"+49{i}")[0] for i in range(2)]
    return tg, wa, clients


def test_broadcast_writes_paced_rows_and_skips_unreachable_clients(db: peewee.Database) -> None:
    tg, wa, clients = _setup()
    Client.update(unsubscribed=True).where(Client.id == clients[1].id).execute()
    Client.update(blocked=True).where(Client.id == clients[2].id).execute()
    now = utcnow().replace(microsecond=123000)
    job = jobs.create_broadcast(
        Client.select(), "Sale!", steps={tg.id: 0.5, wa.id: 2.0}, filter_text="", now=now
    )
    rows = list(Message.select().where(Message.job == job.id).order_by(Message.id))
    assert len(rows) == 5 and {r.text for r in rows} == {"Sale!"}
    assert all(r.status == "queued" and r.direction == "out" for r in rows)
    by_bot: dict[int, list[dt.datetime]] = {}
    for r in rows:
        by_bot.setdefault(r.bot_id, []).append(_due(r))
    tg_times = sorted(by_bot[tg.id])
    assert [round((t - now).total_seconds(), 3) for t in tg_times] == [0, 0.5, 1.0]
    wa_times = sorted(by_bot[wa.id])
    assert [round((t - now).total_seconds(), 3) for t in wa_times] == [0, 2.0]
    p = jobs.progress(job.id)
    assert (p.state, p.total, p.skipped, p.remaining, p.sent) == ("running", 7, 2, 5, 0)
    # The dispatcher hands them over as they come due.
    assert len(outbox.take_due(now=now)) == 2
    assert len(outbox.take_due(now=now + dt.timedelta(seconds=1))) == 2


def test_job_progress_cancel_and_finish(db: peewee.Database) -> None:
    tg, _, _ = _setup(3)
    job = jobs.create_broadcast(Client.select().where(Client.bot == tg), "hi", steps={tg.id: 0})
    ids = [m.id for m in Message.select().where(Message.job == job.id).order_by(Message.id)]
    outbox.claim(ids[0])
    outbox.mark_sent(ids[0], "1")
    outbox.claim(ids[1])
    cancelled = jobs.cancel(job.id)
    assert (cancelled.state, cancelled.sent, cancelled.remaining, cancelled.cancelled) == (
        "cancelled",
        1,
        1,
        1,
    )
    outbox.mark_failed(ids[1], "400", "chat not found")
    jobs.refresh_running()
    p = jobs.progress(job.id)
    assert (p.state, p.sent, p.failed, p.remaining) == ("cancelled", 1, 1, 0)
    other = jobs.create_broadcast(Client.select().where(Client.bot == tg), "x", steps={})
    for m in Message.select().where(Message.job == other.id):
        outbox.claim(m.id)
        outbox.mark_sent(m.id, "p")
    jobs.refresh_running()
    assert jobs.progress(other.id).state == "done"
    assert [j.id for j in jobs.list_jobs()] == [other.id, job.id]
    with pytest.raises(NotFound):
        jobs.progress(999)
    with pytest.raises(StoreError, match="empty"):
        jobs.create_broadcast(Client.select(), "  ", steps={})


def test_resend_failed_resends_the_last_bot_message_of_clients_whose_last_send_failed(
    db: peewee.Database,
) -> None:
    tg, wa, c = _setup(5)
    t0 = utcnow() - dt.timedelta(days=2)

    def send(client: Client, text: str, status: str, at: dt.datetime, author: str = "bot") -> None:
        m = outbox.enqueue(client, text, author_kind=author, now=at)
        outbox.claim(m.id, now=at)
        if status == "failed":
            outbox.mark_failed(m.id, "500", "boom", now=at)
        else:
            outbox.mark_sent(m.id, "p", now=at)

    send(c[0], "old", "sent", t0)
    send(c[0], "promo", "failed", t0)  # last failed -> resend "promo"
    send(c[1], "promo", "failed", t0)
    send(c[1], "later ok", "sent", t0)  # last succeeded -> nothing
    send(c[2], "bot text", "sent", t0)
    send(c[2], "operator reply", "failed", t0, author="operator")  # last failed: resend bot text
    send(c[3], "promo", "failed", t0)
    Client.update(unsubscribed=True).where(Client.id == c[3].id).execute()  # skipped
    send(c[5], "wa promo", "failed", utcnow())  # whatsapp, recent
    # Narrowed by date and by messenger.
    recent = jobs.create_resend_failed(
        None, steps={}, since=utcnow() - dt.timedelta(hours=1), bot_ids=[wa.id]
    )
    assert [m.client_id for m in Message.select().where(Message.job == recent.id)] == [c[5].id]
    jobs.cancel(recent.id)  # its row is gone: c[5]'s last outgoing message is the failed one
    job = jobs.create_resend_failed(None, steps={tg.id: 0.1, wa.id: 0.1}, interval_s=3)
    rows = {m.client_id: m for m in Message.select().where(Message.job == job.id)}
    assert {k: v.text for k, v in rows.items()} == {
        c[0].id: "promo",
        c[2].id: "bot text",
        c[5].id: "wa promo",
    }
    p = jobs.progress(job.id)
    assert (p.total, p.skipped, p.remaining) == (4, 1, 3)
    tg_rows = sorted(_due(r) for r in rows.values() if r.bot_id == tg.id)
    assert round((tg_rows[1] - tg_rows[0]).total_seconds(), 3) == 3.0  # --interval wins
