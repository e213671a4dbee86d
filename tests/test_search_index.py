"""Deleting clients leaves their search entries to a later purge (SQLite, migration 1410):
searches never return a deleted client, a new client reusing its id is found by its own name
only, and after the purge the FTS5 index agrees with the client table again
(``integrity-check``). On PostgreSQL there is nothing to purge."""

from __future__ import annotations

import peewee

from store.clients.bulk import plan_bulk, run_bulk
from store.clients.query import count_clients
from store.clients.search_index import purge_stale, stale_count
from store.db import is_postgres
from store.filters import parse_filter
from store.models import Client, Operator
from tests.factories import MOSCOW, bot, client, operator


def found(text: str, admin: Operator) -> int:
    return count_clients(parse_filter(text, admin, MOSCOW), admin)


def index_agrees(db: peewee.Database) -> bool:
    try:
        db.execute_sql("INSERT INTO client_fts(client_fts, rank) VALUES ('integrity-check', 1)")
    except peewee.DatabaseError:
        return False
    return True


def test_deleted_clients_are_never_found_and_the_purge_catches_up(db: peewee.Database) -> None:
    admin = operator(1, "Admin", "admin")
    client("Kept Person", "kp1")
    for n in range(7):
        client(f"Zinaida {n}", f"zz{n}")
    plan = plan_bulk("delete", None, parse_filter("search:zinaida", admin, MOSCOW), admin)
    assert run_bulk(plan, confirmed=True).count == 7
    assert found("search:zinaida", admin) == 0 and found("search:zz", admin) == 0
    assert found("search:kept", admin) == 1
    if is_postgres():
        assert stale_count() == 0 and purge_stale() == 0
        return
    assert stale_count() == 7 and not index_agrees(db)
    # A new client takes a deleted client's id (SQLite hands out max(id) + 1, the first
    # Zinaida's): found by its own name only, before any purge; that id's entries are gone.
    reborn = Client.create(bot=bot(), messenger_id="nb1", name="Newborn")
    assert reborn.id in range(2, 9) and stale_count() == 6
    assert found("search:newborn", admin) == 1 and found("search:zinaida", admin) == 0
    assert purge_stale(limit=4) == 4 and purge_stale(limit=4) == 2 and purge_stale() == 0
    assert stale_count() == 0 and index_agrees(db)
    assert found("search:newborn", admin) == 1 and found("search:kept", admin) == 1
    reborn.delete_instance()
    assert stale_count() == 1 and found("search:newborn", admin) == 0
    assert purge_stale() == 1 and index_agrees(db)
