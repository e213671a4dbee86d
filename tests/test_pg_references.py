"""References to clients, labels and lists on PostgreSQL, enforced once per statement
(migration 1430, issue 14 items 4 and 7): a row naming a missing client is refused whole,
deleting clients deletes every row referring to them, and a concurrent insert and delete never
leave an orphan."""

from __future__ import annotations

import importlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import peewee
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.clients.bulk import BulkResult, plan_bulk, run_bulk
from store.clients.targets import delete_clients, select_targets
from store.filters import ClientFilter
from store.models import (
    AdminNotice,
    Block,
    BlockHistory,
    CampaignRecipient,
    Client,
    ClientUnread,
    Label,
    LabelMembership,
    ListMembership,
    MailingList,
    Message,
    Variable,
)
from tests import factories
from tests.conftest import migrated_store

MIGRATION = "store.migrations.1430_references_per_statement"
REFERRING = (
    AdminNotice,
    BlockHistory,
    CampaignRecipient,
    ClientUnread,
    LabelMembership,
    ListMembership,
    Message,
    Variable,
)
Connections = tuple[psycopg.Connection, psycopg.Connection, psycopg.Connection]
MISSING = 10**9  # no client has this id
SERIAL = itertools.count()  # messenger ids unique across hypothesis' examples


def _refer(client_id: int, n: int = 0) -> None:
    """One row naming ``client_id`` in every table that refers to clients."""
    bot = factories.bot()
    operator = factories.operator(9000 + client_id * 10 + n, "Op")
    label = Label.get_or_create(name=f"L{n}")[0]
    mailing_list = MailingList.get_or_create(name=f"M{n}")[0]
    block = Block.get_or_create(name=f"B{n}")[0]
    AdminNotice.create(operator=operator, chat_id=1, client=client_id)
    BlockHistory.create(client=client_id, block=block)
    CampaignRecipient.create(campaign_id=n + 1, client=client_id)
    LabelMembership.create(client=client_id, label=label)
    ListMembership.create(client=client_id, mailing_list=mailing_list)
    Message.create(client=client_id, bot=bot, direction="in", author_kind="client", text="hi")
    Variable.create(client=client_id, name=f"v{n}", value="x")
    ClientUnread.insert(client=client_id, responsible=operator).on_conflict_ignore().execute()


def _referring_ids() -> dict[str, set[int | None]]:
    return {
        model._meta.table_name: {row.client_id for row in model.select(model.client)}
        for model in REFERRING
    }


def _fk_violation(excinfo: pytest.ExceptionInfo[peewee.IntegrityError]) -> psycopg.Error:
    cause = excinfo.value.__cause__ or excinfo.value.__context__  # what peewee wrapped
    assert isinstance(cause, psycopg.errors.ForeignKeyViolation), cause
    return cause


@pytest.fixture(params=["fresh", "upgraded"])
def refs_db(request: pytest.FixtureRequest, pg_db: peewee.Database) -> peewee.Database:
    """Built from scratch (1903 converts campaign_recipient, created after 1430 ran), or as a
    database that had every table when 1430 ran (1430 converts every reference)."""
    if request.param == "upgraded":
        migration = importlib.import_module(MIGRATION)
        migration.down(None, pg_db)
        migration.up(None, pg_db)
    return pg_db


PARENTS = ("client", "label", "mailing_list")
ALL_REFERENCES = {(model._meta.table_name, "client") for model in REFERRING} | {
    ("label_membership", "label"),
    ("list_membership", "mailing_list"),
}


def _enforcement(db: peewee.Database) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The (table, parent) references triggers check, and those with a declared foreign key."""
    triggers = set(
        db.execute_sql(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal"
        ).fetchall()
    )
    checked = {
        (table, parent)
        for table, parent in ALL_REFERENCES
        if {(table, f"{table}_{parent}_check_{event}") for event in ("insert", "update")}
        <= triggers
    }
    assert {(parent, f"{parent}_references_cascade") for parent in PARENTS} <= triggers
    declared = set(
        db.execute_sql(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND confrelid::regclass::text = ANY (%s)",
            (list(PARENTS),),
        ).fetchall()
    )
    return checked, declared


def test_every_reference_is_enforced_once(pg_db: peewee.Database) -> None:
    """Built from scratch, 1430 runs before 1801 creates campaign_recipient; 1903 converts it:
    no reference to a client, label or list is left to a per-row trigger."""
    tables = {field.model._meta.table_name for field in Client._meta.backrefs}
    assert tables == {model._meta.table_name for model in REFERRING}
    checked, declared = _enforcement(pg_db)
    assert declared == set()
    assert checked == ALL_REFERENCES


@pytest.mark.parametrize(
    "insert",
    [
        lambda cid: LabelMembership.create(client=cid, label=Label.create(name="x")),
        lambda cid: ListMembership.create(client=cid, mailing_list=MailingList.create(name="x")),
        lambda cid: Variable.create(client=cid, name="size", value="XL"),
        lambda cid: Message.create(
            client=cid, bot=factories.bot(), direction="in", author_kind="client", text="hi"
        ),
        lambda cid: CampaignRecipient.create(campaign_id=1, client=cid),
        lambda cid: ClientUnread.create(client=cid),
    ],
    ids=["label", "list", "variable", "message", "campaign_recipient", "client_unread"],
)
def test_a_row_for_a_missing_client_is_refused(
    refs_db: peewee.Database, insert: Callable[[int], object]
) -> None:
    before = _referring_ids()
    with pytest.raises(peewee.IntegrityError) as excinfo, refs_db.atomic():
        insert(MISSING)
    cause = _fk_violation(excinfo)
    assert cause.diag.constraint_name == f"{cause.diag.table_name}_client_id_fkey"
    assert f"Key (client_id)=({MISSING})" in (cause.diag.message_detail or "")
    assert _referring_ids() == before


def test_a_statement_mixing_good_and_missing_ids_fails_whole(refs_db: peewee.Database) -> None:
    good = factories.client("Anna").id
    label = Label.create(name="hot")
    rows = [{"client": good, "label": label}, {"client": MISSING, "label": label}]
    with pytest.raises(peewee.IntegrityError) as excinfo, refs_db.atomic():
        LabelMembership.insert_many(rows).execute()
    _fk_violation(excinfo)
    assert LabelMembership.select().count() == 0


def test_an_update_to_a_missing_client_is_refused_and_a_move_passes(
    refs_db: peewee.Database,
) -> None:
    anna, boris = factories.client("Anna").id, factories.client("Boris").id
    _refer(anna)
    with pytest.raises(peewee.IntegrityError) as excinfo, refs_db.atomic():
        Message.update(client=MISSING).where(Message.client == anna).execute()
    _fk_violation(excinfo)
    Message.update(client=boris).where(Message.client == anna).execute()  # a merge moves them
    Message.update(text="edited").where(Message.client == boris).execute()
    assert [m.client_id for m in Message.select()] == [boris]


def test_null_client_passes(refs_db: peewee.Database) -> None:
    notice = AdminNotice.create(operator=factories.operator(1, "Op"), chat_id=1, client=None)
    assert AdminNotice.get_by_id(notice.id).client_id is None


@pytest.mark.parametrize("how", ["statement", "delete_clients"])
def test_deleting_clients_deletes_every_row_referring_to_them(
    refs_db: peewee.Database, how: str
) -> None:
    anna, boris, vera = (factories.client(name).id for name in ("Anna", "Boris", "Vera"))
    for n, cid in enumerate((anna, boris, vera)):
        _refer(cid, n)
    if how == "statement":
        Client.delete().where(Client.id.in_([anna, vera])).execute()
    else:
        with refs_db.atomic():  # as the bulk delete runs it
            delete_clients(select_targets(Client.id.in_([anna, vera]))[1])
    assert _referring_ids() == {model._meta.table_name: {boris} for model in REFERRING}


def test_an_id_still_referred_to_cannot_change_or_be_truncated(refs_db: peewee.Database) -> None:
    anna = factories.client("Anna").id
    _refer(anna)
    with pytest.raises(peewee.IntegrityError) as excinfo, refs_db.atomic():
        Client.update(id=MISSING).where(Client.id == anna).execute()
    _fk_violation(excinfo)
    with pytest.raises(peewee.IntegrityError), refs_db.atomic():
        refs_db.execute_sql("TRUNCATE client CASCADE")  # no foreign key left for CASCADE to follow
    assert Client.select().count() == 1
    tables = ", ".join(model._meta.table_name for model in (Client, *REFERRING))
    refs_db.execute_sql(f"TRUNCATE {tables}")  # with every table referring to it: allowed
    assert Client.select().count() == 0


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.integers(0, 7), min_size=1, max_size=12),
    st.sets(st.integers(0, 3)),
)
def test_random_ids_are_refused_exactly_when_one_is_missing(
    refs_db: peewee.Database, picks: list[int], deleted: set[int]
) -> None:
    """Clients 0–3 exist except ``deleted``; 4–7 never did. One multi-row insert of messages."""
    clients = [factories.client(f"C{i}", f"c-{next(SERIAL)}").id for i in range(4)]
    Client.delete().where(Client.id.in_([clients[i] for i in deleted])).execute()
    ids = [clients[i] if i < 4 else MISSING + i for i in picks]
    bot = factories.bot()
    rows = [{"client": cid, "bot": bot, "direction": "in", "author_kind": "client"} for cid in ids]
    before = Message.select().count()
    if any(i >= 4 or i in deleted for i in picks):
        with pytest.raises(peewee.IntegrityError) as excinfo, refs_db.atomic():
            Message.insert_many(rows).execute()
        _fk_violation(excinfo)
        assert Message.select().count() == before
    else:
        Message.insert_many(rows).execute()
        assert Message.select().count() == before + len(rows)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sets(st.integers(0, 4)), st.lists(st.integers(0, 4), max_size=6))
def test_random_deletes_leave_exactly_the_survivors_rows(
    refs_db: peewee.Database, deleted: set[int], extra: list[int]
) -> None:
    for model in REFERRING:
        model.delete().execute()
    clients = [factories.client(f"D{i}", f"d-{next(SERIAL)}").id for i in range(5)]
    for n, i in enumerate(extra):  # some clients referred to more than once
        _refer(clients[i], n + 1)
    for i in range(5):
        _refer(clients[i])
    Client.delete().where(Client.id.in_([clients[i] for i in deleted])).execute()
    survivors = {clients[i] for i in range(5) if i not in deleted}
    assert _referring_ids() == {model._meta.table_name: survivors for model in REFERRING}


# Two connections: the insert of a membership and the delete of its client, in either order.


@pytest.fixture
def two_connections(pg_url: str, refs_db: peewee.Database) -> Iterator[Connections]:
    first, second, watcher = (psycopg.connect(pg_url) for _ in range(3))
    watcher.autocommit = True
    try:
        yield first, second, watcher
    finally:
        for conn in (first, second, watcher):
            conn.close()


def _wait_until_blocked(watcher: psycopg.Connection, conn: psycopg.Connection) -> str:
    """Until ``conn`` waits for a lock (the other transaction holds it); 30 s at most.
    Returns the kind of lock (``wait_event``: ``transactionid``, ``advisory``, ...)."""
    for _ in range(300):
        row = watcher.execute(
            "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = %s",
            (conn.info.backend_pid,),
        ).fetchone()
        if row and row[0] == "Lock":
            return str(row[1])
        time.sleep(0.1)
    raise AssertionError("the second transaction never waited for the first")


def _in_thread(work: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def _count(conn: psycopg.Connection, sql: str) -> int:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def _orphans(conn: psycopg.Connection) -> int:
    return _count(
        conn,
        "SELECT count(*) FROM label_membership m WHERE NOT EXISTS "
        "(SELECT 1 FROM client c WHERE c.id = m.client_id)",
    )


def test_a_delete_waits_for_an_uncommitted_insert_then_cascades(
    two_connections: Connections,
) -> None:
    inserter, deleter, watcher = two_connections
    client_id = factories.client("Anna").id
    label_id = Label.create(name="hot").id
    inserter.execute("INSERT INTO label_membership VALUES (%s, %s)", (client_id, label_id))

    def delete() -> None:
        deleter.execute("DELETE FROM client WHERE id = %s", (client_id,))
        deleter.commit()

    thread, errors = _in_thread(delete)
    _wait_until_blocked(watcher, deleter)
    inserter.commit()
    thread.join(30)
    assert errors == []
    assert _count(watcher, "SELECT count(*) FROM label_membership") == 0
    assert _orphans(watcher) == 0


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_an_insert_waits_for_an_uncommitted_delete(
    two_connections: Connections, outcome: str
) -> None:
    inserter, deleter, watcher = two_connections
    client_id = factories.client("Anna").id
    label_id = Label.create(name="hot").id
    deleter.execute("DELETE FROM client WHERE id = %s", (client_id,))

    def insert() -> None:
        inserter.execute("INSERT INTO label_membership VALUES (%s, %s)", (client_id, label_id))
        inserter.commit()

    thread, errors = _in_thread(insert)
    _wait_until_blocked(watcher, inserter)
    getattr(deleter, outcome)()
    thread.join(30)
    memberships = _count(watcher, "SELECT count(*) FROM label_membership")
    if outcome == "commit":  # the client is gone: the insert fails, nothing is left behind
        assert len(errors) == 1 and isinstance(errors[0], psycopg.errors.ForeignKeyViolation)
        assert memberships == 0
    else:  # the delete rolled back: the client is there, locked by the insert
        assert errors == []
        assert memberships == 1
    assert _orphans(watcher) == 0


def test_down_restores_the_foreign_keys(pg_db: peewee.Database) -> None:
    migration = importlib.import_module(MIGRATION)
    migration.down(None, pg_db)
    restored = pg_db.execute_sql(
        "SELECT conrelid::regclass::text, confrelid::regclass::text, confdeltype "
        "FROM pg_constraint WHERE contype = 'f' AND confrelid::regclass::text = ANY (%s)",
        (list(PARENTS),),
    ).fetchall()
    assert sorted(restored) == sorted((table, parent, "c") for table, parent in ALL_REFERENCES)
    leftover = pg_db.execute_sql(
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND (tgname LIKE '%%_check_%%' "
        "OR tgname LIKE '%%_references%%' OR tgname LIKE '%%_still_referenced')"
    ).fetchall()
    # 1480's triggers for message.bot_id and 1931's for bot and block are not 1430's
    # (tests/test_pg_bot_reference.py, tests/test_pg_import_references.py)
    others: tuple[str, ...] = ("bot_", "message_bot_", "client_bot_", "client_block_")
    others += ("block_history_block_", "block_references", "block_id_still", "block_truncate")
    assert [t for (t,) in leftover if not t.startswith(others)] == []
    # Up again, as on a database upgraded after 1801: every foreign key replaced.
    migration.up(None, pg_db)
    assert _enforcement(pg_db) == (ALL_REFERENCES, set())


def test_labels_and_lists_are_checked_and_cascade(refs_db: peewee.Database) -> None:
    anna = factories.client("Anna").id
    hot, cold = Label.create(name="hot"), Label.create(name="cold")
    vip = MailingList.create(name="VIP")
    with pytest.raises(peewee.IntegrityError) as excinfo, refs_db.atomic():
        LabelMembership.insert_many(
            [{"client": anna, "label": hot}, {"client": anna, "label": MISSING}]
        ).execute()
    assert _fk_violation(excinfo).diag.constraint_name == "label_membership_label_id_fkey"
    with pytest.raises(peewee.IntegrityError) as excinfo, refs_db.atomic():
        ListMembership.create(client=anna, mailing_list=MISSING)
    assert _fk_violation(excinfo).diag.constraint_name == "list_membership_mailing_list_id_fkey"
    LabelMembership.insert_many(
        [{"client": anna, "label": hot}, {"client": anna, "label": cold}]
    ).execute()
    ListMembership.create(client=anna, mailing_list=vip)
    hot.delete_instance()
    vip.delete_instance()
    assert [m.label_id for m in LabelMembership.select()] == [cold.id]
    assert ListMembership.select().count() == 0


def test_a_set_null_reference_is_nulled_not_deleted(pg_db: peewee.Database) -> None:
    """No reference to a client is ON DELETE SET NULL today; the migration's cascade writes
    one as an UPDATE. Generated here for a scratch table (the database is thrown away)."""
    migration = importlib.import_module(MIGRATION)
    pg_db.execute_sql("CREATE TABLE scratch_note (id serial PRIMARY KEY, client_id integer)")
    scratch = ("scratch_note", "client_id", "client", "SET NULL", ("id",))
    for statement in migration._check_statements("scratch_note", "client_id", "client", ("id",)):
        pg_db.execute_sql(statement)
    pg_db.execute_sql("DROP TRIGGER client_references_cascade ON client")
    of_client = [reference for reference in migration.REFERENCES if reference[2] == "client"]
    for statement in migration._cascade_statements("client", [*of_client, scratch]):
        pg_db.execute_sql(statement)
    anna, boris = factories.client("Anna").id, factories.client("Boris").id
    pg_db.execute_sql(
        "INSERT INTO scratch_note (client_id) VALUES (%s), (%s), (NULL)", (anna, boris)
    )
    with pytest.raises(peewee.IntegrityError) as excinfo, pg_db.atomic():
        pg_db.execute_sql("INSERT INTO scratch_note (client_id) VALUES (%s)", (MISSING,))
    assert _fk_violation(excinfo).diag.constraint_name == "scratch_note_client_id_fkey"
    Client.delete().where(Client.id == anna).execute()
    rows = pg_db.execute_sql("SELECT client_id FROM scratch_note ORDER BY id").fetchall()
    assert rows == [(None,), (boris,), (None,)]


def test_1903_converts_only_a_declared_campaign_reference(pg_db: peewee.Database) -> None:
    """On a database whose campaign_recipient 1430 already converted (upgraded), 1903 changes
    nothing; where the declared key is back, it converts it and deleting a client cascades."""
    fresh = importlib.import_module("store.migrations.1903_campaign_references_per_statement")
    fresh.up(None, pg_db)  # already converted: nothing to do, no error
    assert _enforcement(pg_db) == (ALL_REFERENCES, set())
    pg_db.execute_sql(
        "DROP TRIGGER campaign_recipient_client_check_insert ON campaign_recipient; "
        "DROP TRIGGER campaign_recipient_client_check_update ON campaign_recipient; "
        "ALTER TABLE campaign_recipient ADD CONSTRAINT campaign_recipient_client_id_fkey "
        "FOREIGN KEY (client_id) REFERENCES client(id) ON DELETE CASCADE"
    )
    fresh.up(None, pg_db)
    assert _enforcement(pg_db) == (ALL_REFERENCES, set())
    anna = factories.client("Anna").id
    CampaignRecipient.create(campaign_id=1, client=anna)
    Client.delete().where(Client.id == anna).execute()
    assert CampaignRecipient.select().count() == 0


# Statements referring to more than LARGE clients (migration 1960): one advisory lock, taken
# exclusively by the check and shared by every delete of a client, instead of a row lock each.

LARGE_1960 = "store.migrations.1960_large_reference_checks"


def _clients(n: int) -> list[int]:
    """``n`` new clients' ids, in one statement."""
    bot = factories.bot()
    start = next(SERIAL) * 10**6
    rows = [{"bot": bot, "messenger_id": f"n-{start + i}", "name": f"N{i}"} for i in range(n)]
    return [row[0] for row in Client.insert_many(rows).returning(Client.id).tuples().execute()]


def _add_label(conn: psycopg.Connection, label_id: int, ids: list[int]) -> None:
    conn.execute(
        "INSERT INTO label_membership (client_id, label_id) SELECT unnest(%s::bigint[]), %s",
        (ids, label_id),
    )


def _row_locked(conn: psycopg.Connection, ids: list[int]) -> int:
    """How many of ``ids`` carry a lock in their heap row (xmax set)."""
    return _count(
        conn,
        f"SELECT count(*) FROM client WHERE id = ANY ('{{{','.join(map(str, ids))}}}') "
        "AND xmax <> 0",
    )


@pytest.mark.parametrize("migrated", [True, False], ids=["1960", "1960-down"])
def test_a_large_insert_locks_no_client_row(
    refs_db: peewee.Database, pg_url: str, migrated: bool
) -> None:
    migration = importlib.import_module(MIGRATION)
    if not migrated:
        importlib.import_module(LARGE_1960).down(None, refs_db)
    many, few = _clients(migration.LARGE + 1), _clients(migration.LARGE)
    label_id = Label.create(name="hot").id
    with psycopg.connect(pg_url) as conn:
        _add_label(conn, label_id, few)
        assert _row_locked(conn, few) == len(few)  # locked one by one, either way
        _add_label(conn, label_id, many)
        assert _row_locked(conn, many) == (0 if migrated else len(many))
        conn.commit()
    assert LabelMembership.select().count() == len(many) + len(few)
    if not migrated:  # up again: the large form back
        importlib.import_module(LARGE_1960).up(None, refs_db)
        assert (
            "pg_advisory_xact_lock_shared"
            in refs_db.execute_sql(
                "SELECT prosrc FROM pg_proc WHERE proname = 'client_references_cascade'"
            ).fetchone()[0]
        )


def test_a_large_insert_of_a_missing_client_is_refused(refs_db: peewee.Database) -> None:
    ids = _clients(importlib.import_module(MIGRATION).LARGE + 1)
    label = Label.create(name="hot")
    rows = [{"client": cid, "label": label} for cid in [*ids, MISSING]]
    with pytest.raises(peewee.IntegrityError) as excinfo, refs_db.atomic():
        LabelMembership.insert_many(rows).execute()
    assert f"Key (client_id)=({MISSING})" in (_fk_violation(excinfo).diag.message_detail or "")
    assert LabelMembership.select().count() == 0


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_a_delete_waits_for_an_uncommitted_large_insert(
    two_connections: Connections, outcome: str
) -> None:
    inserter, deleter, watcher = two_connections
    ids = _clients(importlib.import_module(MIGRATION).LARGE + 1)
    label_id = Label.create(name="hot").id
    _add_label(inserter, label_id, ids)

    def delete() -> None:
        deleter.execute("DELETE FROM client WHERE id = %s", (ids[0],))
        deleter.commit()

    thread, errors = _in_thread(delete)
    assert _wait_until_blocked(watcher, deleter) == "advisory"  # not a row lock
    getattr(inserter, outcome)()
    thread.join(30)
    assert errors == []
    memberships = _count(watcher, "SELECT count(*) FROM label_membership")
    # committed: the delete's cascade saw the new rows and deleted its client's one
    assert memberships == (len(ids) - 1 if outcome == "commit" else 0)
    assert _orphans(watcher) == 0


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_a_large_insert_waits_for_an_uncommitted_delete(
    two_connections: Connections, outcome: str
) -> None:
    inserter, deleter, watcher = two_connections
    ids = _clients(importlib.import_module(MIGRATION).LARGE + 1)
    label_id = Label.create(name="hot").id
    deleter.execute("DELETE FROM client WHERE id = %s", (ids[-1],))

    def insert() -> None:
        _add_label(inserter, label_id, ids)
        inserter.commit()

    thread, errors = _in_thread(insert)
    assert _wait_until_blocked(watcher, inserter) == "advisory"
    getattr(deleter, outcome)()
    thread.join(30)
    memberships = _count(watcher, "SELECT count(*) FROM label_membership")
    if outcome == "commit":  # the check saw the client gone: nothing inserted
        assert len(errors) == 1 and isinstance(errors[0], psycopg.errors.ForeignKeyViolation)
        assert memberships == 0
    else:
        assert errors == []
        assert memberships == len(ids)
    assert _orphans(watcher) == 0


def test_deletes_and_small_inserts_do_not_wait_for_each_other(
    two_connections: Connections,
) -> None:
    """The advisory lock is shared among deletes, and a small statement keeps row locks: an
    uncommitted delete blocks neither another delete nor a small insert (lock_timeout: an
    error instead of a hang if one did wait)."""
    first, second, watcher = two_connections
    anna, boris, vera = (factories.client(name).id for name in ("Anna", "Boris", "Vera"))
    label_id = Label.create(name="hot").id
    first.execute("DELETE FROM client WHERE id = %s", (anna,))
    second.execute("SET lock_timeout = '5s'")
    second.execute("DELETE FROM client WHERE id = %s", (boris,))
    _add_label(second, label_id, [vera])
    second.commit()
    first.commit()
    assert _count(watcher, "SELECT count(*) FROM client") == 1
    assert _count(watcher, "SELECT count(*) FROM label_membership") == 1


def _wait_until_any_blocked(watcher: psycopg.Connection) -> None:
    """Until some session of this database waits for a lock; 30 s at most."""
    for _ in range(300):
        if _count(
            watcher,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'",
        ):
            return
        time.sleep(0.1)
    raise AssertionError("no session ever waited")


def test_a_label_add_racing_a_first_membership_still_adds_the_rest(
    two_connections: Connections,
) -> None:
    """A label without members is added with a plain INSERT (store.clients.bulk); a membership
    another transaction inserted meanwhile makes it fail on the primary key: the ON CONFLICT
    form then adds the others."""
    other, _, watcher = two_connections
    ids = [factories.client(name).id for name in ("Anna", "Boris", "Vera")]
    admin = factories.operator(1, "Admin", "admin")
    label_id = Label.create(name="fresh").id
    other.execute("INSERT INTO label_membership VALUES (%s, %s)", (ids[1], label_id))
    plan = plan_bulk("label-add", "fresh", ClientFilter(), admin)
    results: list[BulkResult] = []
    thread, errors = _in_thread(lambda: results.append(run_bulk(plan)))
    _wait_until_any_blocked(watcher)  # the plain INSERT, on the uncommitted Boris row
    other.commit()
    thread.join(30)
    assert errors == []
    assert [(r.count, r.changed) for r in results] == [(3, 2)]
    members = watcher.execute("SELECT client_id FROM label_membership ORDER BY 1").fetchall()
    assert members == [(cid,) for cid in sorted(ids)]


def test_1960_leaves_sqlite_alone(tmp_path: Path) -> None:
    """SQLite keeps its declared foreign keys: 1960's up and down change nothing there."""
    migration = importlib.import_module(LARGE_1960)
    with migrated_store(f"sqlite:///{tmp_path / 'store.db'}") as database:

        def schema() -> list[tuple[str, str, str]]:
            return list(
                database.execute_sql(
                    "SELECT type, name, sql FROM sqlite_master ORDER BY name"
                ).fetchall()
            )

        before = schema()
        assert any(name == "label_membership" for _, name, _ in before)
        migration.down(None, database)
        migration.up(None, database)
        assert schema() == before
