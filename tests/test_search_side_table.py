"""The trigram search off the client row (migration 1420, PostgreSQL): ``client_search``.

- ``search:`` and ``id:`` through the side table select exactly the clients the old
  expressions over ``client`` itself selected (``ILIKE`` on name / messenger id / id as text),
  for random Cyrillic and Latin names in any case and needles of 1-5 characters;
- every kind of write keeps the side table equal to ``client``'s (id, name, messenger id):
  multi-row inserts, renames in multi-row updates (changed and unchanged rows mixed), updates
  of other columns (which write nothing to the side table), deletes, an id moved, TRUNCATE,
  and the CSV import's staged statements;
- the migration's ``down`` puts the trigram indexes back on ``client``, ``up`` refills;
- the searched columns keep 1,000-entry statistics (migration 1422);
- an ingest batch's client update (last action, unread) writes nothing to the side table and
  fires no trigger function, a rename in the same batch writes that client's row (1940).
"""

from __future__ import annotations

import importlib
from typing import Any

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.clients.query import select_clients
from store.clients.unread import unread_count
from store.filters import parse_filter
from store.filters.syntax import quote
from store.inbound import InboundMessage, record_inbound_many
from store.models import Client, Operator
from tests.factories import MOSCOW, bot, operator
from tests.test_import_batches import HEADER, do_import, row

MIGRATION = importlib.import_module("store.migrations.1420_client_search_table")
ROW_TRIGGER = importlib.import_module("store.migrations.1940_client_search_row_trigger")
STATISTICS = importlib.import_module("store.migrations.1422_client_search_statistics")
# Letters whose case PostgreSQL's ILIKE and Python fold alike, digits, LIKE's wildcards.
ALPHABET = "abcxyzABCXYZ0189 абвгдеёжкнстюяАБВЕЁКНСЯ%_\\"
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

names = st.text(alphabet=ALPHABET, min_size=1, max_size=12)


def side_rows(db: peewee.Database) -> set[tuple[Any, ...]]:
    cursor = db.execute_sql("SELECT client_id, name, messenger_id FROM client_search")
    return set(cursor.fetchall())


def client_rows(db: peewee.Database) -> set[tuple[Any, ...]]:
    query = Client.select(Client.id, Client.name, Client.messenger_id)
    return {(c.id, c.name, c.messenger_id) for c in query}


def assert_in_step(db: peewee.Database) -> None:
    assert side_rows(db) == client_rows(db)


def side_versions(db: peewee.Database) -> dict[int, str]:
    """Each side row's place (ctid): a new one whenever the row is written, even to the same
    values and within one transaction (where xmin stays the same)."""
    cursor = db.execute_sql("SELECT client_id, ctid::text FROM client_search")
    return dict(cursor.fetchall())


def matched(text: str, viewer: Operator) -> set[int]:
    flt = parse_filter(text, viewer, MOSCOW)
    return {c.id for c in select_clients(flt, viewer, Client.id)}


def insert_clients(specs: list[tuple[str, str]]) -> None:
    """One multi-row INSERT statement (the statement trigger sees all rows at once)."""
    on = bot()
    Client.insert_many(
        [{"bot": on.id, "name": name, "messenger_id": mid} for name, mid in specs]
    ).execute()


@pytest.fixture
def admin(pg_db: peewee.Database) -> Operator:
    return operator(1, "Admin", "admin")


@SETTINGS
@given(
    specs=st.lists(
        st.tuples(names, st.text(alphabet="0123456789abcЯ", min_size=1, max_size=8)),
        min_size=1,
        max_size=12,
        unique_by=lambda s: s[1],
    ),
    pick=st.integers(min_value=0),
    start=st.integers(min_value=0),
    length=st.integers(min_value=1, max_value=5),
    swap=st.booleans(),
)
def test_search_selects_what_ilike_on_the_client_row_selected(
    pg_db: peewee.Database,
    admin: Operator,
    specs: list[tuple[str, str]],
    pick: int,
    start: int,
    length: int,
    swap: bool,
) -> None:
    with pg_db.atomic() as transaction:
        insert_clients(specs)
        name, mid = specs[pick % len(specs)]
        source = name if pick % 2 == 0 else mid
        begin = start % len(source)
        needle = source[begin : begin + length]
        needle = needle.swapcase() if swap else needle
        if needle.strip():  # a blank search term is not a filter
            before = Client.select(Client.id).where(
                Client.name.contains(needle) | Client.messenger_id.contains(needle)
            )
            found = matched(f"search:{quote(needle)}", admin)
            assert found == {c.id for c in before}
            assert found  # the needle came from a client
        some_id = Client.select(Client.id).order_by(Client.id.desc()).scalar()
        digits = str(some_id)[start % len(str(some_id)) :][:length]
        by_id = Client.select(Client.id).where(Client.id.cast("text").contains(digits))
        assert matched(f"id:{digits}", admin) == {c.id for c in by_id}
        assert_in_step(pg_db)
        transaction.rollback()


@SETTINGS
@given(
    specs=st.lists(names, min_size=2, max_size=10),
    renamed=st.sets(st.integers(min_value=0, max_value=9)),
    new_name=names,
    deleted=st.sets(st.integers(min_value=0, max_value=9)),
)
def test_multi_row_writes_keep_the_side_table_in_step(
    pg_db: peewee.Database,
    admin: Operator,
    specs: list[str],
    renamed: set[int],
    new_name: str,
    deleted: set[int],
) -> None:
    with pg_db.atomic() as transaction:
        insert_clients([(name, f"m{n}") for n, name in enumerate(specs)])
        ids = [c.id for c in Client.select(Client.id).order_by(Client.id)]
        assert_in_step(pg_db)
        # Other columns only: nothing is written to the side table.
        versions = side_versions(pg_db)
        Client.update(paused=True, pinned=True).execute()
        assert side_versions(pg_db) == versions
        # One UPDATE renaming some rows and rewriting others to their own name: only the
        # renamed rows (whose name really changed) get a new side row version.
        chosen = [ids[i] for i in renamed if i < len(ids)]
        Client.update(
            name=peewee.Case(None, [(Client.id.in_(chosen), new_name)], Client.name)
        ).execute()
        changed = {i for i in chosen if specs[ids.index(i)] != new_name}
        after = side_versions(pg_db)
        assert {i for i in ids if after[i] != versions[i]} == changed
        assert_in_step(pg_db)
        Client.update(messenger_id=Client.messenger_id.concat("x")).execute()
        assert_in_step(pg_db)
        gone = [ids[i] for i in deleted if i < len(ids)]
        Client.delete().where(Client.id.in_(gone)).execute()
        assert_in_step(pg_db)
        if chosen and new_name.strip():
            kept = {i for i in chosen if i not in gone}
            assert kept <= matched(f"search:{quote(new_name)}", admin)
        transaction.rollback()


def test_an_id_moved_and_a_truncate_keep_it_in_step(pg_db: peewee.Database) -> None:
    insert_clients([("Ольга", "o1"), ("Oleg", "o2")])
    pg_db.execute_sql("UPDATE client SET id = id + 1000")
    assert_in_step(pg_db)
    pg_db.execute_sql("TRUNCATE client CASCADE")
    assert side_rows(pg_db) == set()


def test_the_import_keeps_the_side_table_in_step(pg_db: peewee.Database, admin: Operator) -> None:
    bot()
    first = "\n".join([HEADER, *(row(n, f"Иван {n}") for n in range(1, 6))]) + "\n"
    assert do_import(first, batch_size=2).created == 5
    assert_in_step(pg_db)
    # Rows 1-3 again, two of them renamed, plus a new one: one batch of staged statements.
    again = [row(1, "Пётр Первый"), row(2, "Иван 2"), row(3, "Фёкла"), row(9, "Новый")]
    do_import("\n".join([HEADER, *again]) + "\n", batch_size=10)
    assert_in_step(pg_db)
    assert len(matched("search:пётр", admin)) == 1 and len(matched("search:иван", admin)) == 3


def index_names(db: peewee.Database, table: str) -> set[str]:
    return {i.name for i in db.get_indexes(table)}


def update_trigger(db: peewee.Database) -> tuple[bool, list[str], bool]:
    """(fires per row, the columns it is limited to, has a WHEN condition) of the client
    update trigger."""
    cursor = db.execute_sql(
        "SELECT (t.tgtype & 1) = 1, "
        "ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = t.tgrelid "
        "AND a.attnum = ANY(t.tgattr) ORDER BY a.attname), t.tgqual IS NOT NULL "
        "FROM pg_trigger t WHERE t.tgname = 'client_search_update'"
    )
    per_row, columns, conditional = cursor.fetchone()
    return per_row, columns, conditional


def test_an_ingest_update_leaves_the_side_table_alone_and_a_rename_writes_it(
    pg_db: peewee.Database, admin: Operator
) -> None:
    # Not even queued for an update of other columns: limited to the searched ones, per row.
    assert update_trigger(pg_db) == (True, ["id", "messenger_id", "name"], True)
    on = bot()

    def message(sender: str, key: str, name: str) -> InboundMessage:
        return InboundMessage(on.name, sender, key, text="hi", name=name)

    record_inbound_many([message("a1", "k1", "Анна"), message("b1", "k2", "Борис")])
    assert_in_step(pg_db)
    versions = side_versions(pg_db)
    # Both write again under the same names: the clients' last action and unread change.
    record_inbound_many([message("a1", "k3", "Анна"), message("b1", "k4", "Борис")])
    assert unread_count(admin) == 2
    assert side_versions(pg_db) == versions
    # One of them renamed in the next batch: that side row only.
    record_inbound_many([message("a1", "k5", "Анна"), message("b1", "k6", "Бронислав")])
    after = side_versions(pg_db)
    (renamed,) = [i for i in after if after[i] != versions[i]]
    assert Client.get_by_id(renamed).name == "Бронислав"
    assert_in_step(pg_db)
    assert len(matched("search:бронислав", admin)) == 1 and not matched("search:борис", admin)


def test_the_row_trigger_down_and_up(pg_db: peewee.Database) -> None:
    insert_clients([("Ксения", "k1"), ("Kate", "k2")])
    ROW_TRIGGER.down(None, pg_db)  # 1420's statement trigger
    assert update_trigger(pg_db) == (False, [], False)
    Client.update(name=Client.name.concat("!")).where(Client.messenger_id == "k1").execute()
    assert_in_step(pg_db)
    ROW_TRIGGER.up(None, pg_db)
    Client.update(name=Client.name.concat("?")).where(Client.messenger_id == "k2").execute()
    assert_in_step(pg_db)
    pg_db.execute_sql("UPDATE client SET id = id + 1000, name = name || '.'")
    assert_in_step(pg_db)


def test_down_puts_the_trigram_indexes_back_on_client_and_up_refills(
    pg_db: peewee.Database, admin: Operator
) -> None:
    insert_clients([("Ксения", "k1"), ("Kate", "k2")])
    trigram = {"client_name_trgm", "client_messenger_id_trgm", "client_id_trgm"}
    assert trigram <= index_names(pg_db, "client_search")
    assert not trigram & index_names(pg_db, "client")
    ROW_TRIGGER.down(None, pg_db)
    MIGRATION.down(None, pg_db)
    assert "client_search" not in pg_db.get_tables()
    assert trigram <= index_names(pg_db, "client")
    insert_clients([("Ксюша", "k3")])  # written while the side table is gone
    MIGRATION.up(None, pg_db)
    ROW_TRIGGER.up(None, pg_db)
    assert_in_step(pg_db)
    assert not trigram & index_names(pg_db, "client")
    assert len(matched("search:кс", admin)) == 2


def test_sqlite_has_no_side_table(db: peewee.Database) -> None:
    if isinstance(db, peewee.PostgresqlDatabase):
        assert "client_search" in db.get_tables()
    else:
        assert "client_search" not in db.get_tables() and "client_fts" in db.get_tables()


def statistics_targets(db: peewee.Database) -> dict[str, int]:
    cursor = db.execute_sql(
        "SELECT attname, attstattarget FROM pg_attribute "
        "WHERE attrelid = 'client_search'::regclass AND attname IN ('name', 'messenger_id')"
    )
    return dict(cursor.fetchall())


def test_the_searched_columns_keep_finer_statistics(pg_db: peewee.Database) -> None:
    assert statistics_targets(pg_db) == {"name": 1000, "messenger_id": 1000}
    STATISTICS.down(None, pg_db)
    assert statistics_targets(pg_db) == {"name": -1, "messenger_id": -1}
