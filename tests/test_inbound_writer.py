"""The group-commit writer: concurrent events share transactions, each gets its own result."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import traceback
import weakref
from pathlib import Path

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.batching import InboundWriter, record_isolated
from bots.webhook import store_call
from store.db import database_proxy, make_database, write_transaction
from store.errors import NotFound, StoreRejected, StoreUnavailable
from store.inbound import InboundMessage, RecordResult
from store.models import Bot, Client, Message
from store.setup import sync_bots
from tests.poison import refused_texts


def event(n: int, person: int, bot: str = "tg") -> InboundMessage:
    return InboundMessage(
        bot_name=bot, messenger_id=str(person), dedup_key=f"tg:update:{n}", text=f"m{n}"
    )


@pytest.mark.parametrize("lanes", [1, 3])
async def test_concurrent_events_share_transactions(db: peewee.Database, lanes: int) -> None:
    sync_bots([("tg", "telegram")])
    writer = InboundWriter(lanes=lanes)
    commits = 0
    original = db.commit

    def counting_commit() -> None:
        nonlocal commits
        commits += 1
        original()

    db.commit = counting_commit  # type: ignore[method-assign]
    try:
        events = [event(n, n % 7) for n in range(60)] + [event(5, 5)]  # one redelivery
        results = await asyncio.gather(*(writer.record(e) for e in events))
    finally:
        db.commit = original  # type: ignore[method-assign]
        await writer.close()
    assert [r.duplicate for r in results] == [False] * 60 + [True]
    assert results[-1].message_id == results[5].message_id
    assert sum(r.client_created for r in results) == 7 == Client.select().count()
    assert Message.select().count() == 60
    texts = [
        m.text
        for m in Message.select().where(Message.client == results[3].client_id).order_by(Message.id)
    ]
    assert texts == [f"m{n}" for n in range(3, 60, 7)]  # one client's messages in order
    assert 0 < commits < 20  # grouped, not one commit per event


async def test_unknown_bot_fails_alone_and_a_down_store_fails_everyone(db: peewee.Database) -> None:
    sync_bots([("tg", "telegram")])
    writer = InboundWriter()
    try:
        good, ghost = await asyncio.gather(
            writer.record(event(1, 1)),
            writer.record(event(2, 1, bot="ghost")),
            return_exceptions=True,
        )
        assert not isinstance(good, BaseException) and not good.duplicate
        assert isinstance(ghost, NotFound)
        database_proxy.initialize(make_database("postgresql://postgres@127.0.0.1:1/down"))
        try:
            down = await asyncio.gather(
                writer.record(event(3, 1)), writer.record(event(4, 2)), return_exceptions=True
            )
        finally:
            database_proxy.initialize(db)
        assert all(isinstance(r, StoreUnavailable) for r in down)
        again = await writer.record(event(3, 1))
        assert not again.duplicate
    finally:
        await writer.close()
    assert [m.text for m in Message.select().order_by(Message.id)] == ["m1", "m3"]


def poison_or_not(n: int, poison: bool) -> InboundMessage:
    return InboundMessage(
        bot_name="tg",
        messenger_id=str(n % 5),
        dedup_key=f"tg:update:{n}",
        text=f"poison{n}" if poison else f"m{n}",
    )


async def test_a_refused_event_fails_alone(db: peewee.Database) -> None:
    sync_bots([("tg", "telegram")])
    writer = InboundWriter()
    events = [poison_or_not(n, n % 4 == 1) for n in range(40)]
    try:
        with refused_texts(db):
            results = await asyncio.gather(
                *(writer.record(e) for e in events), return_exceptions=True
            )
    finally:
        await writer.close()
    for e, result in zip(events, results, strict=True):
        if e.text.startswith("poison"):
            assert isinstance(result, StoreRejected), result
            assert "refused by the test" in result.detail or "test_refused" in result.detail
        else:
            assert isinstance(result, RecordResult) and not result.duplicate, result
    stored = [m.dedup_key or "" for m in Message.select().order_by(Message.id)]
    assert sorted(stored) == sorted(e.dedup_key for e in events if not e.text.startswith("poison"))


_keys = itertools.count()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(poison=st.lists(st.booleans(), min_size=1, max_size=24))
def test_isolated_batches_store_every_good_event_once(
    db: peewee.Database, poison: list[bool]
) -> None:
    sync_bots([("tg", "telegram")])
    events = [poison_or_not(next(_keys), bad) for bad in poison]
    with refused_texts(db):
        results = record_isolated(events)
    assert [isinstance(r, StoreRejected) for r in results] == poison
    assert all(
        isinstance(r, RecordResult) for r, bad in zip(results, poison, strict=True) if not bad
    )
    keys = [e.dedup_key for e in events]
    stored = [m.dedup_key or "" for m in Message.select().where(Message.dedup_key.in_(keys))]
    assert sorted(stored) == sorted(
        e.dedup_key for e, bad in zip(events, poison, strict=True) if not bad
    )


async def test_an_error_leaves_its_worker_thread_without_frames_or_cursors(
    tmp_path: Path,
) -> None:
    """The cursor of a failed statement is freed on the thread that ran it, before the error
    reaches the event loop (freed there, it blocked the loop on the connection's lock)."""
    database = peewee.SqliteDatabase(str(tmp_path / "x.db"), check_same_thread=False)
    database.execute_sql("CREATE TABLE t (v TEXT NOT NULL)")
    freed_on: list[int] = []
    worker: list[int] = []

    def failing() -> None:
        worker.append(threading.get_ident())
        cursor = database.cursor()
        weakref.finalize(cursor, lambda: freed_on.append(threading.get_ident()))
        cursor.execute("INSERT INTO t (v) VALUES (NULL)")

    def wrapped_failing() -> None:
        database.execute_sql("INSERT INTO t (v) VALUES (NULL)")

    with pytest.raises(sqlite3.IntegrityError) as raised:
        await store_call(failing)
    assert freed_on == worker  # freed on the worker thread, not here
    error = raised.value
    assert error.__context__ is None and error.__cause__ is None
    assert "failing" in "".join(error.__notes__)  # the worker's traceback, as text
    frames = [frame.f_code.co_name for frame, _ in traceback.walk_tb(error.__traceback__)]
    assert "failing" not in frames
    with pytest.raises(peewee.IntegrityError) as wrapped:
        await store_call(wrapped_failing)
    assert wrapped.value.__context__ is None  # the driver's error peewee wrapped is dropped
    frames = [frame.f_code.co_name for frame, _ in traceback.walk_tb(wrapped.value.__traceback__)]
    assert "execute_sql" not in frames and "wrapped_failing" not in frames
    database.close()


def test_a_read_only_database_is_unavailable_not_refused_data(pg_db: peewee.Database) -> None:
    """A standby after a failover refuses writes: 503 and redelivery, not unusable items."""
    sync_bots([("tg", "telegram")])
    pg_db.execute_sql("SET default_transaction_read_only = on")  # this thread's connection
    try:
        results = record_isolated([poison_or_not(n, poison=False) for n in range(3)])
    finally:
        pg_db.execute_sql("SET default_transaction_read_only = off")
    assert all(isinstance(r, StoreUnavailable) and "read-only" in str(r) for r in results)
    assert Message.select().count() == 0

    def write_on_a_standby() -> None:
        pg_db.execute_sql("SET default_transaction_read_only = on")
        try:
            with write_transaction():
                Bot.create(name="new", kind="telegram")
        finally:
            pg_db.execute_sql("SET default_transaction_read_only = off")

    with pytest.raises(StoreUnavailable, match="read-only"):
        asyncio.run(store_call(write_on_a_standby))
