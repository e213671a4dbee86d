from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import peewee
import pytest
from playhouse.schema_diff import diff_models

from store.clients.unread import is_unread
from store.db import is_postgres
from store.inbound import Attachment, InboundMessage, record_inbound
from store.migrate import migrate, pending_migrations
from store.models import (
    ALL_MODELS,
    POSTGRES_ONLY_INDEXES,
    Bot,
    Client,
    Label,
    LabelMembership,
    ListMembership,
    MailingList,
    Message,
    Variable,
)
from store.setup import bootstrap_operators, sync_bots


def test_migrated_schema_matches_the_models(db: peewee.Database) -> None:
    # A model changed without a migration shows up here as a non-empty diff.
    # (The trigram search indexes are on PostgreSQL's client_search, not a model: 1420.)
    diff = diff_models(db, ALL_MODELS)
    if is_postgres(db):
        # Every PostgreSQL-only index is there, and only those may be missing from the models.
        extra = {(index.table, index.name) for index in diff.drop_indexes}
        declared = {
            (table, name) for table, names in POSTGRES_ONLY_INDEXES.items() for name in names
        }
        assert declared <= extra, f"PostgreSQL-only indexes missing: {declared - extra}"
        diff = diff._replace(
            drop_indexes=[i for i in diff.drop_indexes if (i.table, i.name) not in declared]
        )
    assert not diff, f"models and migrations disagree:\n{diff}"


def test_migrate_twice_changes_nothing(db: peewee.Database) -> None:
    assert pending_migrations(db) == []
    assert migrate(db) == []


def test_sqlite_runs_in_wal_with_foreign_keys(db: peewee.Database) -> None:
    if is_postgres(db):
        assert db.execute_sql("SHOW TIMEZONE").fetchone() is not None
        return
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def _event(n: int, **kw: object) -> InboundMessage:
    base: dict[str, object] = {
        "bot_name": "shop_tg",
        "messenger_id": "7771988777",
        "dedup_key": f"tg:update:{n}",
        "text": f"hello {n}",
        "name": "Вася",
    }
    base.update(kw)
    return InboundMessage(**base)  # type: ignore[arg-type]


def test_record_inbound_creates_client_and_is_idempotent(db: peewee.Database) -> None:
    sync_bots([("shop_tg", "telegram")])
    first = record_inbound(
        _event(
            1,
            attachments=(Attachment(kind="photo", file_id="F1", size=10),),
            variables={"start_payload": "ad42"},
        )
    )
    again = record_inbound(_event(1))
    assert first.client_created and not first.duplicate
    assert again.duplicate and again.message_id == first.message_id
    assert Message.select().count() == 1
    client = Client.get_by_id(first.client_id)
    assert is_unread(client.id) and client.name == "Вася"
    message = Message.get_by_id(first.message_id)
    assert message.attachments == [{"kind": "photo", "file_id": "F1", "size": 10}]
    assert (
        Variable.get(Variable.client == client.id, Variable.name == "start_payload").value == "ad42"
    )


def test_same_person_on_two_bots_is_two_clients(db: peewee.Database) -> None:
    sync_bots([("shop_tg", "telegram"), ("other_tg", "telegram")])
    a = record_inbound(_event(1))
    b = record_inbound(_event(1, bot_name="other_tg"))
    assert a.client_id != b.client_id
    assert Client.select().count() == 2


def test_concurrent_redelivery_stores_one_message(db: peewee.Database) -> None:
    sync_bots([("shop_tg", "telegram")])

    def deliver(_: int) -> bool:
        try:
            return record_inbound(_event(5)).duplicate
        finally:
            db.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(deliver, range(8)))
    assert results.count(False) == 1
    assert Message.select().count() == 1 and Client.select().count() == 1


def test_deleting_a_client_deletes_what_hangs_off_it(db: peewee.Database) -> None:
    sync_bots([("shop_tg", "telegram")])
    result = record_inbound(_event(1, variables={"Размер": "XS"}))
    vip = MailingList.create(name="VIP")
    hot = Label.create(name="hot")
    ListMembership.create(client=result.client_id, mailing_list=vip)
    LabelMembership.create(client=result.client_id, label=hot)
    Client.delete().where(Client.id == result.client_id).execute()
    for model in (Message, Variable, ListMembership, LabelMembership):
        assert model.select().count() == 0, model.__name__
    assert MailingList.select().count() == 1  # the list itself stays


def test_timestamps_round_trip_as_naive_utc(db: peewee.Database) -> None:
    sync_bots([("shop_tg", "telegram")])
    at = dt.datetime(2023, 5, 22, 20, 59, 0)
    result = record_inbound(_event(1, sent_at=at))
    client = Client.get_by_id(result.client_id)
    assert client.created_at == at and client.created_at.tzinfo is None


def test_messenger_id_is_unique_per_bot(db: peewee.Database) -> None:
    sync_bots([("shop_tg", "telegram")])
    bot = Bot.get(Bot.name == "shop_tg")
    Client.create(bot=bot, messenger_id="1")
    with pytest.raises(peewee.IntegrityError), db.atomic():
        Client.create(bot=bot, messenger_id="1")


def test_unknown_bot_is_refused(db: peewee.Database) -> None:
    from store.errors import NotFound

    with pytest.raises(NotFound, match="nope"):
        record_inbound(_event(1, bot_name="nope"))


def test_sync_is_repeatable_and_keeps_operator_edits(db: peewee.Database) -> None:
    from store.models import Operator

    sync_bots([("a", "telegram")])
    sync_bots([("a", "telegram"), ("b", "email")])
    assert sorted(b.name for b in Bot.select()) == ["a", "b"]
    bootstrap_operators([(111, "admin", "Anna", None)])
    Operator.update(name="Anna K").where(Operator.telegram_id == 111).execute()
    bootstrap_operators([(111, "admin", "Anna", None)])
    assert Operator.get(Operator.telegram_id == 111).name == "Anna K"
