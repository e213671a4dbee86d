"""The durable outbox on SQLite and PostgreSQL: enqueue, atomic claim, results, sweep."""

from __future__ import annotations

import datetime as dt
import threading

import peewee
import pytest

from store import outbox
from store.clock import utcnow
from store.db import database_proxy
from store.inbound import get_or_create_client
from store.models import Bot, Client, Message
from store.setup import sync_bots


def _client(n: int = 1) -> Client:
    sync_bots([("shop_tg", "telegram")])
    bot = Bot.get(Bot.name == "shop_tg")
    client, _ = get_or_create_client(bot, str(1000 + n))
    return client


def test_enqueue_writes_a_queued_outbound_row_in_the_callers_transaction(
    db: peewee.Database,
) -> None:
    client = _client()
    message = outbox.enqueue(client, "hello", author_kind="operator")
    row = Message.get_by_id(message.id)
    assert (row.direction, row.author_kind, row.status, row.attempts) == (
        "out",
        "operator",
        "queued",
        0,
    )
    assert row.bot_id == client.bot_id
    # Rolled back with what caused it: no orphan message.
    with pytest.raises(RuntimeError), database_proxy.atomic():
        ghost = outbox.enqueue(client.id, "never")
        raise RuntimeError("caller failed")
    assert Message.get_or_none(Message.id == ghost.id) is None


def test_enqueue_refuses_client_authors(db: peewee.Database) -> None:
    with pytest.raises(ValueError, match="author_kind"):
        outbox.enqueue(_client(), "x", author_kind="client")


def test_claim_has_one_winner_and_counts_the_attempt(db: peewee.Database) -> None:
    message = outbox.enqueue(_client(), "hi")
    first = outbox.claim(message.id)
    assert first is not None and first.status == "sending" and first.attempts == 1
    assert outbox.claim(message.id) is None
    assert outbox.mark_sent(message.id, "tg:42")
    row = Message.get_by_id(message.id)
    assert (row.status, row.platform_message_id) == ("sent", "tg:42")
    # A finished row cannot be finished again or re-claimed.
    assert not outbox.mark_failed(message.id, "x", "y")
    assert outbox.claim(message.id) is None


def test_concurrent_claims_from_many_threads_have_exactly_one_winner(
    db: peewee.Database,
) -> None:
    ids = [outbox.enqueue(_client(n), f"m{n}").id for n in range(5)]
    winners: list[tuple[int, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker(k: int) -> None:
        barrier.wait()
        try:
            for message_id in ids:
                if outbox.claim(message_id) is not None:
                    with lock:
                        winners.append((message_id, k))
        finally:
            if not database_proxy.is_closed():
                database_proxy.close()  # each thread has its own connection

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m for m, _ in winners) == ids
    assert all(Message.get_by_id(i).attempts == 1 for i in ids)


def test_failed_and_retry_store_code_and_text(db: peewee.Database) -> None:
    client = _client()
    a = outbox.enqueue(client, "a")
    outbox.claim(a.id)
    assert outbox.mark_failed(a.id, "403", "Forbidden: bot was blocked by the user")
    row = Message.get_by_id(a.id)
    assert (row.status, row.error_code, row.error_text) == (
        "failed",
        "403",
        "Forbidden: bot was blocked by the user",
    )
    b = outbox.enqueue(client, "b")
    now = utcnow()
    outbox.claim(b.id, now=now)
    later = now + dt.timedelta(seconds=7)
    assert outbox.retry_later(b.id, later, "429", "retry after 7", now=now)
    row = Message.get_by_id(b.id)
    assert (row.status, row.next_attempt_at, row.attempts, row.error_code) == (
        "queued",
        later,
        1,
        "429",
    )
    # Not due yet: nobody can claim it, and it is not handed to the broker.
    assert outbox.claim(b.id, now=now + dt.timedelta(seconds=6)) is None
    assert outbox.take_due(now=now + dt.timedelta(seconds=6)) == []
    assert outbox.take_due(now=later) == [b.id]
    assert outbox.take_due(now=later) == []  # handed over once
    assert outbox.claim(b.id, now=later).attempts == 2  # type: ignore[union-attr]


def test_defer_does_not_count_an_attempt(db: peewee.Database) -> None:
    m = outbox.enqueue(_client(), "x")
    now = utcnow()
    outbox.claim(m.id, now=now)
    assert outbox.defer(m.id, now + dt.timedelta(seconds=2), now=now)
    row = Message.get_by_id(m.id)
    assert (row.status, row.attempts) == ("queued", 0)


def test_sweep_returns_rows_stuck_in_sending_or_lost_by_the_broker(db: peewee.Database) -> None:
    client = _client()
    t0 = utcnow()
    stuck = outbox.enqueue(client, "stuck", now=t0)
    lost = outbox.enqueue(client, "lost", now=t0)
    fresh = outbox.enqueue(client, "fresh", now=t0 + dt.timedelta(seconds=50))
    done = outbox.enqueue(client, "done", now=t0)
    outbox.claim(stuck.id, now=t0)
    outbox.claim(done.id, now=t0)
    outbox.mark_sent(done.id, "1", now=t0)
    assert outbox.sweep(30, now=t0 + dt.timedelta(seconds=10)) == []
    swept = outbox.sweep(30, now=t0 + dt.timedelta(seconds=60))
    assert sorted(swept) == sorted([stuck.id, lost.id])
    assert Message.get_by_id(stuck.id).status == "queued"
    assert Message.get_by_id(fresh.id).status == "queued"
    # Stamped: the same rows are not handed over again within the period.
    assert outbox.sweep(30, now=t0 + dt.timedelta(seconds=61)) == []
    # The re-queued row can be claimed and sent; its second attempt is counted.
    again = outbox.claim(stuck.id, now=t0 + dt.timedelta(seconds=62))
    assert again is not None and again.attempts == 2


def test_counts_and_latest_errors(db: peewee.Database) -> None:
    client = _client()
    ids = [outbox.enqueue(client, str(n)).id for n in range(3)]
    outbox.claim(ids[0])
    outbox.mark_failed(ids[0], "400", "chat not found")
    outbox.claim(ids[1])
    assert outbox.counts_by_status() == {"failed": 1, "sending": 1, "queued": 1}
    assert [m.id for m in outbox.latest_errors()] == [ids[0]]


def test_new_rows_are_handed_to_the_broker_once_when_due(db: peewee.Database) -> None:
    client = _client()
    now = utcnow()
    at_once = outbox.enqueue(client, "now", now=now)
    later = outbox.enqueue(client, "later", now=now, not_before=now + dt.timedelta(seconds=5))
    assert outbox.take_due(now=now) == [at_once.id]
    assert outbox.take_due(now=now) == []
    assert outbox.take_due(now=now + dt.timedelta(seconds=5)) == [later.id]


def test_a_send_that_outlived_the_sweep_is_still_recorded_as_sent(db: peewee.Database) -> None:
    message = outbox.enqueue(_client(), "slow")
    t0 = utcnow()
    outbox.claim(message.id, now=t0)
    # The sweep gives up on it while the platform call is still running ...
    assert outbox.sweep(3, now=t0 + dt.timedelta(seconds=4)) == [message.id]
    # ... the call succeeds: the row is sent and no other worker will send it again.
    assert outbox.mark_sent(message.id, "tg:7")
    assert Message.get_by_id(message.id).status == "sent"
    assert outbox.claim(message.id) is None


def test_interactive_rows_are_handed_over_before_a_broadcast_backlog(db: peewee.Database) -> None:
    from store import jobs
    from store.models import PRIORITY_BULK, PRIORITY_INTERACTIVE, Job

    clients = [_client(n) for n in range(6)]
    t0 = utcnow()
    # A broadcast whose rows all came due before the reply was written (a backlog).
    job = jobs.create_broadcast(
        Client.select().where(Client.id.in_([c.id for c in clients])),
        "Sale",
        steps={clients[0].bot_id: 0.1},
        now=t0 - dt.timedelta(seconds=5),
    )
    assert Job.get_by_id(job.id).priority == PRIORITY_BULK
    bulk = [m.id for m in Message.select().where(Message.job == job.id).order_by(Message.id)]
    assert {Message.get_by_id(i).priority for i in bulk} == {PRIORITY_BULK}
    reply = outbox.enqueue(clients[0], "your order shipped", author_kind="operator", now=t0)
    assert reply.priority == PRIORITY_INTERACTIVE
    # The reply is the latest row due, yet it leads; a lane can be taken alone.
    assert outbox.take_due(limit=3, now=t0) == [reply.id, *bulk[:2]]
    assert outbox.take_due(priority=PRIORITY_INTERACTIVE, now=t0) == []
    assert outbox.take_due(priority=PRIORITY_BULK, now=t0) == bulk[2:]
    assert outbox.lanes_of([bulk[0], 10**9, reply.id, bulk[1]]) == {
        PRIORITY_BULK: [bulk[0], bulk[1]],
        PRIORITY_INTERACTIVE: [reply.id],
    }
    with pytest.raises(ValueError, match="priority"):
        outbox.enqueue(clients[0], "x", priority=7)
