"""An import's new clients enter SQLite's search index at its end (migration 1440): while
deferred, a search finds every client indexed before with its current name and never a
client under another's name; after ``catch_up`` the FTS5 index agrees with the client table
(``integrity-check``) — also when the import was killed midway and the catch-up came from the
next import or from the dispatcher's tick. PostgreSQL has nothing to defer."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.clients.query import where_clause
from store.clients.search_index import (
    ABANDONED_S,
    catch_up,
    catch_up_abandoned,
    defer_new_clients,
    pending_after,
    purge_stale,
)
from store.db import write_transaction
from store.export import BASE_COLUMNS
from store.filters import parse_filter
from store.importer import import_csv
from store.models import Client, Operator
from store.setup import sync_bots
from tests.conftest import migrated_store
from tests.factories import MOSCOW, bot, operator
from tests.killed_import import killed_import
from tests.test_search_index import index_agrees

HEADER = ",".join(BASE_COLUMNS)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[peewee.Database]:
    with migrated_store(f"sqlite:///{tmp_path / 'store.db'}") as database:
        sync_bots([("shop_tg", "telegram")])
        yield database


def found(text: str, admin: Operator) -> set[str]:
    query = parse_filter(f"search:{text}", admin, MOSCOW)
    where = where_clause(query, admin)
    rows = Client.select(Client.messenger_id)
    return {c.messenger_id for c in (rows.where(where) if where is not None else rows)}


def csv_text(first: int, last: int) -> str:
    rows = [f",Person {n:05d},telegram,shop_tg,imp{n:05d}q,,,,,,\r\n" for n in range(first, last)]
    return HEADER + "\r\n" + "".join(rows)


def test_a_killed_import_is_caught_up_by_the_tick_then_the_next_import(
    sqlite_store: peewee.Database, tmp_path: Path
) -> None:
    admin = operator(1, "Admin", "admin")
    for n in range(5):
        Client.create(bot=bot(), messenger_id=f"old{n}x", name=f"Zebediah {n}")
    source = tmp_path / "clients.csv"
    source.write_text(csv_text(0, 400), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    killed_import(url, source, after_batches=3, defer_indexes=False)
    assert Client.select().count() == 5 + 150
    assert (
        pending_after()
        == Client.select(peewee.fn.MAX(Client.id))
        .where(Client.messenger_id.startswith("old"))
        .scalar()
    )
    # Deferred: the clients from before are found, the imported ones not yet, none wrongly.
    assert found("zebediah", admin) == {f"old{n}x" for n in range(5)}
    assert found("imp00", admin) == set() and not index_agrees(sqlite_store)
    # The tick leaves a mark alone while its import may be alive, then takes a chunk.
    assert catch_up_abandoned() == 0 and pending_after() is not None
    assert catch_up_abandoned(now=time.time() + ABANDONED_S + 1) == 150
    assert pending_after() is None and index_agrees(sqlite_store)
    assert len(found("imp00", admin)) == 150 and found("person 00149", admin) == {"imp00149q"}
    # Killed again; this time the next import's own catch-up covers what was left.
    again = tmp_path / "more.csv"
    again.write_text(csv_text(400, 800), encoding="utf-8")
    killed_import(url, again, after_batches=3, defer_indexes=False)
    assert pending_after() is not None and found("imp0045", admin) == set()
    report = import_csv(io.StringIO(csv_text(0, 400), newline=""), MOSCOW, batch_size=100)
    assert (report.created, report.updated) == (250, 150)
    assert pending_after() is None and index_agrees(sqlite_store)
    assert len(found("imp00", admin)) == 550 and len(found("imp0045", admin)) == 10
    assert found("zebediah", admin) == {f"old{n}x" for n in range(5)}


# One step while deferred: ("new", k) a client; ("rename", k) the k-th existing one (wrapping);
# ("delete", k) likewise.
STEPS = st.lists(
    st.tuples(st.sampled_from(["new", "rename", "delete"]), st.integers(0, 50)), max_size=25
)
NAMES = st.text(alphabet="abcxyzАБВжзи ", min_size=0, max_size=12)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    before=st.integers(0, 6),
    steps=STEPS,
    names=st.lists(NAMES, min_size=60, max_size=60),
    chunk=st.integers(1, 8),
    how=st.sampled_from(["rebuild", "whole", "chunks"]),
)
def test_writes_while_deferred_leave_an_index_that_agrees(
    sqlite_store: peewee.Database,
    before: int,
    steps: list[tuple[str, int]],
    names: list[str],
    chunk: int,
    how: str,
) -> None:
    admin = Operator.get_or_none(Operator.telegram_id == 1) or operator(1, "Admin", "admin")
    run = Client.select().count()  # earlier examples' clients stay; ids here are unique
    tag = f"t{os.getpid() % 100:02d}{run:05d}"

    def mid(n: int) -> str:
        return f"{tag}m{n:03d}q"

    for n in range(before):
        Client.create(bot=bot(), messenger_id=mid(n), name=names[n])
    with write_transaction():
        defer_new_clients()
    mark = pending_after()
    assert mark is not None
    made = before
    for kind, k in steps:
        alive = list(Client.select().where(Client.messenger_id.startswith(tag)).order_by(Client.id))
        if kind == "new" or not alive:
            Client.create(bot=bot(), messenger_id=mid(made), name=names[made % 60])
            made += 1
        elif kind == "rename":
            Client.update(name=names[(k + made) % 60] + "r").where(
                Client.id == alive[k % len(alive)].id
            ).execute()
        else:
            Client.delete().where(Client.id == alive[k % len(alive)].id).execute()
    kept = {c.messenger_id: c for c in Client.select().where(Client.messenger_id.startswith(tag))}
    # Deferred: a search finds every client at or below the mark, and only under its own values.
    hits = found(tag, admin)
    assert hits <= set(kept)
    assert {m for m, c in kept.items() if c.id <= mark} <= hits
    for m in hits:
        assert found(m, admin) == {m}
    if how != "chunks":
        catch_up(rebuild=how == "rebuild")
    else:
        while pending_after() is not None:
            catch_up(limit=chunk, chunk=chunk)
    while purge_stale():
        pass
    assert pending_after() is None and index_agrees(sqlite_store)
    assert found(tag, admin) == set(kept)
    for m in kept:
        assert found(m, admin) == {m}


def test_nothing_is_deferred_on_postgresql(pg_db: peewee.Database) -> None:
    sync_bots([("shop_tg", "telegram")])
    with write_transaction():
        defer_new_clients()
    assert pending_after() is None and catch_up() == 0 and catch_up_abandoned() == 0
    import_csv(io.StringIO(csv_text(0, 30), newline=""), MOSCOW, batch_size=7)
    assert len(found("imp00", operator(1, "A", "admin"))) == 30
