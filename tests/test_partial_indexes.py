"""Migrations 1920 and 1921: the partial indexes (rows whose column is not NULL) still serve
every query that used the full ones, on both databases: the planner uses a partial index only
when the query's condition proves the index's ``IS NOT NULL``."""

from __future__ import annotations

import importlib
from typing import Any

import peewee
import pytest

from store import leases, outbox, probe
from store.clock import utcnow
from store.db import is_postgres
from store.filters.suggest import distinct_values
from store.models import Block, Bot, Client, Job, Message, Operator
from tests.sqllog import captured_queries

partial = importlib.import_module("store.migrations.1920_partial_indexes")
outbox_index = importlib.import_module("store.migrations.1921_partial_outbox_index")
whole_again = importlib.import_module("store.migrations.1923_full_client_responsible_index")
# 1920's partial indexes less the one 1923 made whole again.
STILL_PARTIAL = {n: v for n, v in partial.PARTIAL.items() if n != whole_again.NAME}


def _plan(db: peewee.Database, query: Any) -> str:
    """The plan of ``query`` as one text; on PostgreSQL with sequential scans priced out, so
    that a small table shows which index the planner *may* use."""
    sql, params = query.sql()
    if is_postgres(db):
        db.execute_sql("SET enable_seqscan = off")
        try:
            rows = db.execute_sql("EXPLAIN " + sql, params).fetchall()
        finally:
            db.execute_sql("RESET enable_seqscan")
        return "\n".join(row[0] for row in rows)
    rows = db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    return "\n".join(str(row[-1]) for row in rows)


def _uses(db: peewee.Database, query: Any, index: str) -> None:
    plan = _plan(db, query)
    assert f" {index} " in f" {plan} ".replace("(", " ").replace("\n", " "), plan


@pytest.fixture
def rows(db: peewee.Database) -> dict[str, int]:
    bot = Bot.create(name="shop_tg", kind="telegram")
    operator = Operator.create(telegram_id=1, name="op", role="operator")
    block = Block.create(name="Оплата")
    job = Job.create(kind="broadcast")
    clients = [
        {"bot": bot.id, "messenger_id": str(n), "deal_stage": "Новый" if n % 3 else None}
        for n in range(60)
    ]
    Client.insert_many(clients).execute()
    client = Client.get(Client.messenger_id == "1")
    now = utcnow()
    Message.insert_many(
        [
            {
                "client": client.id,
                "bot": bot.id,
                "direction": "in" if n % 2 else "out",
                "author_kind": "client",
                "dedup_key": f"tg:update:{n}" if n % 2 else None,
                "platform_message_id": None if n % 2 else f"p{n}",
                "created_at": now,
                "updated_at": now,
            }
            for n in range(60)
        ]
    ).execute()
    for table in ("client", "message"):
        db.execute_sql(f"ANALYZE {table}")
    return {"bot": bot.id, "operator": operator.id, "block": block.id, "job": job.id}


def test_the_seven_indexes_are_partial_on_not_null(db: peewee.Database) -> None:
    for name, (table, _, unique, column) in STILL_PARTIAL.items():
        if is_postgres(db):
            (ddl,) = db.execute_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = %s", (name,)
            ).fetchone()
        else:
            (ddl,) = db.execute_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
            ).fetchone()
        assert f"{column} IS NOT NULL" in ddl.replace('"', ""), ddl
        assert ("UNIQUE" in ddl) == unique, ddl
        assert table in ddl


def test_client_lookups_use_the_partial_indexes(db: peewee.Database, rows: dict[str, int]) -> None:
    bot, operator, block = rows["bot"], rows["operator"], rows["block"]
    by_bsuid = (Client.bot == bot) & (Client.bsuid == "b1")  # store.identities
    _uses(db, Client.select(Client.id).where(by_bsuid), "client_bot_id_bsuid")
    stages = Client.deal_stage.in_(["Новый", "Оплата"])  # stage:
    _uses(db, Client.select(Client.id).where(stages), "client_deal_stage")
    _uses(db, Client.select(Client.id).where(Client.deal_stage == "Новый"), "client_deal_stage")
    _uses(db, Client.select(Client.id).where(Client.block.in_([block])), "client_block_id")
    mine = Client.responsible.in_([operator])  # responsible:OPERATOR
    _uses(db, Client.select(Client.id).where(mine), "client_responsible_id")
    # What deleting an operator or a block does (ON DELETE SET NULL), as a statement.
    freed = Client.update(responsible=None).where(Client.responsible == operator)
    _uses(db, freed, "client_responsible_id")
    unblocked = Client.update(block=None).where(Client.block == block)
    _uses(db, unblocked, "client_block_id")


def test_the_stage_names_are_read_from_the_partial_index(
    db: peewee.Database, rows: dict[str, int]
) -> None:
    assert distinct_values(Client.deal_stage) == ["Новый"]
    lowest = Client.select(peewee.fn.MIN(Client.deal_stage)).where(Client.deal_stage.is_null(False))
    _uses(db, lowest, "client_deal_stage")


def test_message_lookups_use_the_partial_indexes(db: peewee.Database, rows: dict[str, int]) -> None:
    bot, operator, job = rows["bot"], rows["operator"], rows["job"]
    dedup = (Message.bot == bot) & Message.dedup_key.in_(["tg:update:1", "tg:update:3"])  # ingest
    _uses(db, Message.select(Message.id).where(dedup), "message_bot_id_dedup_key")
    receipt = (Message.bot == bot) & (Message.platform_message_id == "p2")  # delivery_status
    _uses(db, Message.select(Message.id).where(receipt), "message_bot_id_platform_message_id")
    _uses(db, Message.select(Message.id).where(Message.job.in_([job])), "message_job_id")
    _uses(db, Message.select(Message.id).where(Message.job == job), "message_job_id")
    left = Message.update(operator=None).where(Message.operator == operator)  # operator deleted
    _uses(db, left, "message_operator_id")
    unjobbed = Message.update(job=None).where(Message.job == job)  # job deleted
    _uses(db, unjobbed, "message_job_id")


def test_unique_still_holds_for_values_and_not_for_nulls(
    db: peewee.Database, rows: dict[str, int]
) -> None:
    client = Client.get(Client.messenger_id == "1")
    now = utcnow()
    base = {"client": client.id, "bot": rows["bot"], "direction": "out", "author_kind": "bot"}
    Message.create(**base, dedup_key=None, created_at=now, updated_at=now)  # a second NULL
    with pytest.raises(peewee.IntegrityError), db.atomic():
        Message.create(**base, dedup_key="tg:update:1", created_at=now, updated_at=now)
    Client.update(bsuid="B").where(Client.messenger_id == "1").execute()
    with pytest.raises(peewee.IntegrityError), db.atomic():
        Client.update(bsuid="B").where(Client.messenger_id == "2").execute()


def test_down_restores_full_indexes_and_up_partial_again(db: peewee.Database) -> None:
    def partial_names() -> set[str]:
        if is_postgres(db):
            found = db.execute_sql(
                "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%% WHERE %%'"
            ).fetchall()
        else:
            found = db.execute_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'"
            ).fetchall()
        return {row[0] for row in found} & set(partial.PARTIAL)

    assert partial_names() == set(STILL_PARTIAL)
    partial.down(None, db)
    assert partial_names() == set()
    partial.up(None, db)
    assert partial_names() == set(partial.PARTIAL)
    whole_again.up(None, db)
    assert partial_names() == set(STILL_PARTIAL)


def _statements_of(calls: list[Any]) -> list[tuple[str, Any]]:
    """(sql, params) of every statement peewee runs while ``calls`` run."""
    with captured_queries() as seen:
        for call in calls:
            call()
    return seen


def test_the_outbox_reads_its_rows_from_the_partial_status_index(
    db: peewee.Database, rows: dict[str, int]
) -> None:
    """Migration 1921: every outbox read by status (the dispatcher's due rows, the leases'
    orphans, the probes, the counts) still finds its rows through the index of the rows with
    a status."""
    calls = [
        lambda: outbox.take_due(),
        lambda: outbox.counts_by_status(),
        lambda: outbox.oldest_queued_age_s(),
        lambda: leases.recover(60.0),
        lambda: leases.sending_by_worker(),
        lambda: probe.has_queued(),
        lambda: probe.handed_over_queued(utcnow(), limit=10),
    ]
    by_status = [
        (sql, params)
        for sql, params in _statements_of(calls)
        if '"status" =' in sql or '"status" IS NOT NULL' in sql
    ]
    assert len(by_status) >= len(calls) - 1  # recover selects before it updates
    for sql, params in by_status:
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        _uses(db, _Raw(sql, params), "message_status_priority_next_attempt_at")


class _Raw:
    """A statement already rendered, for ``_plan``."""

    def __init__(self, sql: str, params: Any) -> None:
        self._sql, self._params = sql, params

    def sql(self) -> tuple[str, Any]:
        return self._sql, self._params


def test_the_outbox_index_is_partial_and_down_makes_it_whole(db: peewee.Database) -> None:
    def ddl() -> str:
        if is_postgres(db):
            query = "SELECT indexdef FROM pg_indexes WHERE indexname = %s"
        else:
            query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?"
        (text,) = db.execute_sql(query, (outbox_index.NAME,)).fetchone()
        return str(text).replace('"', "")

    assert "WHERE" in ddl() and "status IS NOT NULL" in ddl()
    outbox_index.down(None, db)
    assert "WHERE" not in ddl()
    outbox_index.up(None, db)
    assert "status IS NOT NULL" in ddl()
