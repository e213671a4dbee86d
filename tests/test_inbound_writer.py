"""The group-commit writer: concurrent events share transactions, each gets its own result."""

from __future__ import annotations

import asyncio

import peewee
import pytest

from bots.batching import InboundWriter
from store.db import database_proxy, make_database
from store.errors import NotFound, StoreUnavailable
from store.inbound import InboundMessage
from store.models import Client, Message
from store.setup import sync_bots


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
