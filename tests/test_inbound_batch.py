"""``record_inbound_many`` (group commit) has exactly the outcome of ``record_inbound`` on
each event in turn: the same flags, clients, messages and variables."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import peewee
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.clients.unread import is_unread
from store.db import database_proxy, open_database
from store.errors import NotFound
from store.inbound import InboundMessage, record_inbound, record_inbound_many
from store.migrate import migrate
from store.models import Client, Message, Variable
from store.setup import sync_bots

T0 = dt.datetime(2024, 5, 1, 12, 0)


def events() -> st.SearchStrategy[InboundMessage]:
    return st.builds(
        InboundMessage,
        bot_name=st.sampled_from(["a", "a", "a", "b", "ghost"]),
        messenger_id=st.sampled_from(["1", "2", "3"]),
        dedup_key=st.sampled_from([f"k{i}" for i in range(6)]),
        text=st.text(max_size=5),
        name=st.sampled_from([None, "Ann", "Bo"]),
        username=st.sampled_from([None, "ann"]),
        language=st.sampled_from([None, "en", "de"]),
        sent_at=st.integers(0, 5).map(lambda m: T0 + dt.timedelta(minutes=m)),
        variables=st.sampled_from([{}, {"start_payload": "x"}, {"start_payload": "y"}]),
        mark_unread=st.booleans(),
        unsubscribed=st.sampled_from([None, True, False]),
        author_kind=st.sampled_from(["client", "system"]),
    )


def fresh_store() -> peewee.Database:
    database = open_database("sqlite:///:memory:")
    migrate(database)
    sync_bots([("a", "telegram"), ("b", "telegram")])
    return database


def outcome(result: Any) -> Any:
    if isinstance(result, NotFound):
        return "not found"
    return (result.client_created, result.duplicate)


def snapshot() -> Any:
    clients = sorted(
        (
            c.bot.name,
            c.messenger_id,
            c.name,
            c.username,
            c.language,
            str(c.last_action_at),
            str(c.created_at),
            is_unread(c.id),
            c.unsubscribed,
        )
        for c in Client.select()
    )
    messages = sorted(
        (m.bot.name, m.dedup_key, m.client.messenger_id, m.text, m.author_kind, str(m.created_at))
        for m in Message.select()
    )
    variables = sorted(
        (v.client.messenger_id, v.client.bot.name, v.name, v.value) for v in Variable.select()
    )
    return clients, messages, variables


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(events(), max_size=12), cuts=st.lists(st.integers(0, 12), max_size=3))
def test_a_batch_equals_one_by_one(batch: list[InboundMessage], cuts: list[int]) -> None:
    try:
        fresh_store()
        one_by_one = []
        for event in batch:
            try:
                one_by_one.append(outcome(record_inbound(event)))
            except NotFound:
                one_by_one.append("not found")
        expected = snapshot()
        database_proxy.obj.close()

        fresh_store()
        together: list[Any] = []
        bounds = sorted({0, len(batch), *(c for c in cuts if c <= len(batch))})
        for start, end in itertools.pairwise(bounds):
            together.extend(outcome(r) for r in record_inbound_many(batch[start:end]))
        assert together == one_by_one
        assert snapshot() == expected
    finally:
        if database_proxy.obj is not None:
            database_proxy.obj.close()
        database_proxy.initialize(None)
