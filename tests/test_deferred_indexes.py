"""A big import builds the secondary indexes at its end (migration 1930,
``store.deferred_indexes``): on both databases the store ends with the same indexes as
before — after a normal import, and after an import SIGKILLed midway, repaired by the
dispatcher's tick and by the next import — and the data round-trips through export."""

from __future__ import annotations

import time
from pathlib import Path

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playhouse.schema_diff import diff_models

from store import deferred_indexes
from store.db import is_postgres
from store.deferred_indexes import ABANDONED_S, IMPORTED_TABLES, secondary_indexes
from store.export import BASE_COLUMNS
from store.importer import DEFER_MIN_ROWS
from store.models import ALL_MODELS, POSTGRES_ONLY_INDEXES, BlockHistory, Client, Variable
from store.setup import sync_bots
from tests.killed_import import killed_import
from tests.test_export_import import (
    BOTS,
    client_strategy,
    do_import,
    export_text,
    make_client,
    seed_exported,
    wipe,
    without_ids,
)

HEADER = ",".join([*BASE_COLUMNS, "Размер"])


def all_indexes() -> dict[str, str]:
    return {
        name: definition
        for table in IMPORTED_TABLES
        for name, definition in secondary_indexes(table)
    }


def schema_matches_models(database: peewee.Database) -> bool:
    diff = diff_models(database, ALL_MODELS)
    if is_postgres(database):
        declared = {(t, n) for t, names in POSTGRES_ONLY_INDEXES.items() for n in names}
        diff = diff._replace(
            drop_indexes=[i for i in diff.drop_indexes if (i.table, i.name) not in declared]
        )
    return not diff


def csv_text(first: int, last: int) -> str:
    rows = [
        f",Person {n:05d},telegram,shop_tg,imp{n:05d},2024-01-02T03:04:05+03:00,,,Old,"
        f"Start > Old,t{n % 3},{'XL' if n % 2 else ''}\r\n"
        for n in range(first, last)
    ]
    return HEADER + "\r\n" + "".join(rows)


@pytest.fixture
def store(db: peewee.Database) -> peewee.Database:
    sync_bots(BOTS)
    return db


def test_the_indexes_are_dropped_during_the_import_and_rebuilt_at_its_end(
    store: peewee.Database,
) -> None:
    before = all_indexes()
    # The migrated store's non-unique indexes; the unique ones the import relies on stay.
    assert {"client_created_at", "blockhistory_block_id"} <= before.keys()
    assert not {"client_bot_id_messenger_id", "variable_client_id_name"} & before.keys()
    during: list[tuple[dict[str, str], list[str]]] = []
    report = do_import(
        csv_text(0, 120),
        batch_size=50,
        defer_indexes=True,
        progress=lambda rows: during.append((all_indexes(), deferred_indexes.deferred())),
    )
    assert (report.created, report.updated, report.errors) == (120, 0, [])
    assert [indexes for indexes, _ in during] == [{}, {}, {}]
    assert all(sorted(names) == sorted(before) for _, names in during)
    assert all_indexes() == before and deferred_indexes.deferred() == []
    assert schema_matches_models(store)
    assert BlockHistory.select().count() == 240 and Variable.select().count() == 60
    # Again, into a store that holds them: updates, every history replaced, nothing deferred
    # by default (the file is small next to the store).
    report = do_import(csv_text(0, 120), batch_size=50, rows=120)
    assert (report.created, report.updated) == (0, 120)
    assert BlockHistory.select().count() == 240 and all_indexes() == before


def test_only_a_big_import_next_to_the_store_defers(store: peewee.Database) -> None:
    from store.importer import _worth_deferring

    assert not _worth_deferring(None) and not _worth_deferring(DEFER_MIN_ROWS - 1)
    assert _worth_deferring(DEFER_MIN_ROWS)
    for n in range(3):
        make_client("shop_tg", f"x{n}", f"X {n}")
    assert _worth_deferring(DEFER_MIN_ROWS)
    assert not _worth_deferring(11)


def test_a_killed_import_is_repaired_by_the_tick_then_by_the_next_import(
    store: peewee.Database, db_url: str, tmp_path: Path
) -> None:
    before = all_indexes()
    source = tmp_path / "clients.csv"
    source.write_text(csv_text(0, 400), encoding="utf-8")
    killed_import(db_url, source, after_batches=2, defer_indexes=True)
    store.close()  # PostgreSQL: the child's DROP INDEX is committed; see it afresh
    store.connect()
    assert Client.select().count() == 100
    assert all_indexes() == {} and sorted(deferred_indexes.deferred()) == sorted(before)
    assert not schema_matches_models(store)
    # The tick leaves the indexes to an import that may be alive, then takes one a tick.
    assert deferred_indexes.restore_abandoned() == 0
    later = time.time() + ABANDONED_S + 1
    assert deferred_indexes.restore_abandoned(now=later) == 1
    assert len(all_indexes()) == 1 and len(deferred_indexes.deferred()) == len(before) - 1
    # Killed again (the one index rebuilt is dropped again), then an import that does not
    # defer recreates them all before its first batch.
    killed_import(db_url, source, after_batches=2, defer_indexes=True)
    store.close()
    store.connect()
    assert all_indexes() == {} and sorted(deferred_indexes.deferred()) == sorted(before)
    report = do_import(csv_text(0, 400), batch_size=100)
    assert (report.created, report.updated) == (300, 100)
    assert all_indexes() == before and deferred_indexes.deferred() == []
    assert schema_matches_models(store)
    assert BlockHistory.select().count() == 800 and Variable.select().count() == 200


def test_the_index_definitions_come_from_the_database(store: peewee.Database) -> None:
    # An index a later migration adds (here: made by hand, partial) is deferred and rebuilt
    # as it was, without a list to update.
    where = "WHERE tag IS NOT NULL"
    store.execute_sql(f"CREATE INDEX client_tag_partial ON client (tag) {where}")
    before = all_indexes()
    assert "tag IS NOT NULL" in before["client_tag_partial"]
    do_import(csv_text(0, 60), batch_size=50, defer_indexes=True)
    assert all_indexes() == before


def test_two_connections_rebuild_every_index_once(store: peewee.Database) -> None:
    # The import's end: on PostgreSQL a second connection (a thread of its own) takes the
    # records the first one does not hold; on SQLite one connection does them all.
    before = all_indexes()
    make_client("shop_tg", "x1", "X 1")
    dropped = deferred_indexes.defer()
    assert sorted(dropped) == sorted(before) and all_indexes() == {}
    assert deferred_indexes.restore(workers=2) == len(before)
    assert all_indexes() == before and deferred_indexes.deferred() == []
    assert schema_matches_models(store)
    assert deferred_indexes.restore(workers=2) == 0
    # The import's own connection is still usable after the other thread's closed.
    assert Client.select().where(Client.messenger_id == "x1").count() == 1


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(clients=st.lists(client_strategy, min_size=1, max_size=4))
def test_round_trip_with_the_indexes_deferred(
    store: peewee.Database, clients: list[dict[str, object]]
) -> None:
    # Quotes, newlines, tabs, backslashes, any unicode but NUL: staged by COPY on PostgreSQL.
    seed_exported(clients, 'm\t{n}\\N"')
    first = export_text(batch_size=3)
    wipe()
    report = do_import(first, defer_indexes=True)
    assert report.errors == [] and report.created == len(clients)
    assert without_ids(export_text(batch_size=3)) == without_ids(first)
    assert deferred_indexes.deferred() == []
