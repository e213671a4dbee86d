"""``client.bot_id``, ``client.block_id`` and ``block_history.block_id`` enforced once per
statement on PostgreSQL (migration 1931, issue 14 item 6): a row naming a missing bot or block
is refused with the old constraint's name, deleting a block deletes its history and clears the
clients' current block, deleting a bot deletes its clients and messages, ``down`` restores the
declared keys and ``up`` converts them again."""

from __future__ import annotations

import datetime as dt
import importlib

import peewee
import psycopg
import pytest

from store.models import Block, BlockHistory, Bot, Client, Message
from tests import factories

MIGRATION = "store.migrations.1931_import_references_per_statement"
MISSING = 30_000  # no bot or block has this id
TRIGGERS = ("client_bot", "client_block", "block_history_block")


def _declared(db: peewee.Database) -> set[str]:
    rows = db.execute_sql(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' "
        "AND conrelid IN ('client'::regclass, 'block_history'::regclass) "
        "AND confrelid IN ('bot'::regclass, 'block'::regclass)"
    ).fetchall()
    return {name for (name,) in rows}


def _refused(db: peewee.Database, query: peewee.Query, constraint: str) -> None:
    with pytest.raises(peewee.IntegrityError) as excinfo, db.atomic():
        query.execute()
    cause = excinfo.value.__cause__ or excinfo.value.__context__
    assert isinstance(cause, psycopg.errors.ForeignKeyViolation), cause
    assert cause.diag.constraint_name == constraint
    assert f"=({MISSING})" in (cause.diag.message_detail or "")


def _checks(db: peewee.Database) -> None:
    bot = factories.bot()
    anna = factories.client("Anna", block="Start")
    start = Block.get(Block.name == "Start")
    _refused(
        db,
        Client.insert_many(
            [
                {"bot": bot.id, "messenger_id": "ok", "name": "Ok"},
                {"bot": MISSING, "messenger_id": "gone", "name": "Gone"},
            ]
        ),
        "client_bot_id_fkey",
    )
    _refused(
        db,
        Client.insert(bot=bot.id, messenger_id="b", name="B", block=MISSING),
        "client_block_id_fkey",
    )
    _refused(db, Client.update(block=MISSING).where(Client.id == anna.id), "client_block_id_fkey")
    now = dt.datetime(2024, 1, 1)
    _refused(
        db,
        BlockHistory.insert_many(
            [
                {"client": anna.id, "block": start.id, "entered_at": now},
                {"client": anna.id, "block": MISSING, "entered_at": now},
            ]
        ),
        "block_history_block_id_fkey",
    )
    assert Client.select().count() == 1 and BlockHistory.select().count() == 0
    BlockHistory.create(client=anna, block=start, entered_at=now)
    start.delete_instance()
    assert BlockHistory.select().count() == 0
    assert Client.get_by_id(anna.id).block_id is None
    Message.create(client=anna, bot=bot, direction="in", author_kind="client", text="hi")
    Bot.delete().where(Bot.id == bot.id).execute()
    assert Client.select().count() == 0 and Message.select().count() == 0


def test_the_references_are_statement_checks(pg_db: peewee.Database) -> None:
    assert _declared(pg_db) == set()
    triggers = {name for (name,) in pg_db.execute_sql("SELECT tgname FROM pg_trigger").fetchall()}
    assert {f"{t}_check_insert" for t in TRIGGERS} <= triggers
    _checks(pg_db)


def test_down_restores_the_declared_keys_and_up_converts_them_again(
    pg_db: peewee.Database,
) -> None:
    migration = importlib.import_module(MIGRATION)
    migration.down(None, pg_db)
    assert _declared(pg_db) == {
        "client_bot_id_fkey",
        "client_block_id_fkey",
        "block_history_block_id_fkey",
    }
    triggers = {
        name
        for (name,) in pg_db.execute_sql(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        ).fetchall()
    }
    converted = {
        *(f"{t}_check_{e}" for t in TRIGGERS for e in ("insert", "update")),
        "block_references_cascade",
        "block_id_still_referenced",
        "block_truncate_references",
    }
    assert not converted & triggers
    assert "bot_references_cascade" in triggers  # 1480's, for message
    migration.down(None, pg_db)  # twice: nothing more to do
    migration.up(None, pg_db)
    assert _declared(pg_db) == set()
    _checks(pg_db)
