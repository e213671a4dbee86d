"""store.bulk_rows: many rows in one statement of fixed text, on SQLite and PostgreSQL, read
back through the models exactly as peewee's own insert would have written them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import peewee
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.bulk_rows import insert_rows, select_rows, update_rows
from store.models import Bot, Client, Message, Variable
from store.sanitize import clean_text

FIELDS: list[peewee.Field] = [
    Message.client,
    Message.bot,
    Message.direction,
    Message.author_kind,
    Message.text,
    Message.attachments,
    Message.extra,
    Message.dedup_key,
    Message.created_at,
    Message.updated_at,
]


def a_client() -> Client:
    bot = Bot.create(name="shop_tg", kind="telegram")
    return Client.create(bot=bot, messenger_id="1", name="Анна")


def test_rows_defaults_and_conflicts(db: peewee.Database) -> None:
    client = a_client()
    at = dt.datetime(2026, 12, 6, 8, 30, 1, 123456)
    rows: list[tuple[Any, ...]] = [
        (
            client.id,
            client.bot_id,
            "in",
            "client",
            "привет 👋",
            [{"kind": "photo"}],
            {},
            "k1",
            at,
            at,
        ),
        (client.id, client.bot_id, "in", "client", "", [], {"b": [1, "x"]}, "k2", at, at),
    ]
    got = insert_rows(
        Message, FIELDS, rows, returning=[Message.dedup_key, Message.id], ignore_conflicts=True
    )
    assert [key for key, _ in got] == ["k1", "k2"]
    first, second = (Message.get_by_id(message_id) for _, message_id in got)
    assert (first.text, first.attachments, first.created_at) == (
        "привет 👋",
        [{"kind": "photo"}],
        at,
    )
    assert (second.extra, second.text, second.status, second.attempts) == (
        {"b": [1, "x"]},
        "",
        None,
        0,
    )
    assert second.priority == Message.priority.default
    # The same key again: skipped, and only the new row comes back.
    again = insert_rows(
        Message,
        FIELDS,
        [(*rows[0][:7], "k1", at, at), (*rows[0][:7], "k3", at, at)],
        returning=[Message.dedup_key],
        ignore_conflicts=True,
    )
    assert again == [("k3",)]
    assert Message.select().count() == 3
    assert insert_rows(Message, FIELDS, []) == []


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(st.text(max_size=40), min_size=1, max_size=8))
def test_any_text_reads_back_as_written(db: peewee.Database, texts: list[str]) -> None:
    Message.delete().execute()
    client = Client.get_or_none() or a_client()
    at = dt.datetime(2026, 1, 1)
    cleaned = [clean_text(text) for text in texts]  # what ingest stores: store.sanitize's text
    rows: list[tuple[Any, ...]] = [
        (client.id, client.bot_id, "in", "client", text, [], {"t": text}, f"k{k}", at, at)
        for k, text in enumerate(cleaned)
    ]
    insert_rows(Message, FIELDS, rows)
    stored = [(m.text, m.extra["t"]) for m in Message.select().order_by(Message.id)]
    assert stored == [(text, text) for text in cleaned]


def test_update_rows_sets_each_rows_own_values(db: peewee.Database) -> None:
    client = a_client()
    other = Client.create(bot=client.bot_id, messenger_id="2", name="Boris")
    untouched = Client.create(bot=client.bot_id, messenger_id="3", name="Vera")
    at = dt.datetime(2026, 12, 6, 9, 0, 0, 654321)
    columns: list[peewee.Field] = [
        Client.name,
        Client.last_action_at,
        Client.pinned,
        Client.username,
    ]
    update_rows(
        Client,
        Client.id,
        columns,
        [(client.id, "Анна К.", at, True, None), (other.id, "Борис", at, False, "boris")],
    )
    got = {
        c.messenger_id: (c.name, c.last_action_at, c.pinned, c.username) for c in Client.select()
    }
    assert got["1"] == ("Анна К.", at, True, None)
    assert got["2"] == ("Борис", at, False, "boris")
    assert got["3"] == ("Vera", untouched.last_action_at, False, None)
    update_rows(Client, Client.id, columns, [])  # nothing to do


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    stored=st.sets(st.text(min_size=1, max_size=12), max_size=6),
    asked=st.lists(st.text(min_size=1, max_size=12), max_size=8),
)
def test_select_rows_finds_exactly_the_asked_keys_of_one_owner(
    db: peewee.Database, stored: set[str], asked: list[str]
) -> None:
    Client.delete().execute()
    bot = Bot.get_or_none(Bot.name == "shop_tg") or Bot.create(name="shop_tg", kind="telegram")
    other = Bot.get_or_none(Bot.name == "other") or Bot.create(name="other", kind="telegram")
    at = dt.datetime(2026, 12, 6, 9, 0, 0, 654321)
    keys = {clean_text(key) for key in stored} - {""}
    for key in keys:
        Client.create(bot=bot, messenger_id=key, name=key, last_action_at=at)
        Client.create(bot=other, messenger_id=key, name="not this one")
    asked = [clean_text(key) for key in asked]
    columns: list[peewee.Field] = [Client.messenger_id, Client.name, Client.last_action_at]
    got = select_rows(Client, columns, (Client.bot, bot.id), Client.messenger_id, asked)
    assert sorted(got) == sorted((key, key, at) for key in keys & set(asked))


def test_upsert_sets_the_conflicting_rows_and_inserts_the_others(db: peewee.Database) -> None:
    client = a_client()
    other = Client.create(bot=client.bot_id, messenger_id="2", name="Boris")
    Variable.create(client=client, name="Город", value="Казань")
    Variable.create(client=other, name="Город", value="Омск")
    fields: list[peewee.Field] = [Variable.client, Variable.name, Variable.value]
    target: list[peewee.Field] = [Variable.client, Variable.name]
    upsert = (target, [Variable.value])
    rows = [(client.id, "Город", "Москва"), (client.id, "Размер", "XS")]
    insert_rows(Variable, fields, rows, upsert=upsert)
    insert_rows(Variable, fields, [(client.id, "Размер", "XL")], upsert=upsert)
    got = {(v.client_id, v.name): v.value for v in Variable.select()}
    assert got == {
        (client.id, "Город"): "Москва",
        (client.id, "Размер"): "XL",
        (other.id, "Город"): "Омск",
    }


def test_select_rows_by_integer_keys_and_update_to_null(db: peewee.Database) -> None:
    """Integer keys and NULLs travel through the one JSON parameter as their column's type."""
    client = a_client()
    other = Client.create(bot=client.bot_id, messenger_id="2", name="Boris", username="boris")
    columns: list[peewee.Field] = [Client.id, Client.username, Client.paused]
    update_rows(Client, Client.id, [Client.username, Client.paused], [(other.id, None, True)])
    got = select_rows(Client, columns, (Client.bot, client.bot_id), Client.id, [other.id, 10**9])
    assert got == [(other.id, None, True)]


def test_an_aware_timestamp_is_stored_as_naive_utc_on_postgres(pg_db: peewee.Database) -> None:
    """The store's timestamps are naive UTC: an aware one goes into the JSON rows as UTC
    (a cast of ISO text with an offset to ``timestamp`` would drop the offset)."""
    client = a_client()
    moscow = dt.timezone(dt.timedelta(hours=3))
    at = dt.datetime(2026, 12, 6, 12, 0, 0, 250, tzinfo=moscow)
    update_rows(Client, Client.id, [Client.last_action_at], [(client.id, at)])
    assert Client.get_by_id(client.id).last_action_at == dt.datetime(2026, 12, 6, 9, 0, 0, 250)
