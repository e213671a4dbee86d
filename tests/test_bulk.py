"""Bulk actions, read-all, purge-unsubscribed, saved filters and unread counters (SPEC F3, F8,
F9, F12, F15) on SQLite and PostgreSQL: scope, confirmation, audit rows, counts, set-based."""

from __future__ import annotations

from collections.abc import Iterator

import peewee
import pytest

from store.clients.bulk import (
    ActionError,
    plan_bulk,
    plan_purge_unsubscribed,
    plan_read_all,
    run_bulk,
)
from store.clients.saved import delete_saved, get_saved, list_saved, save_filter
from store.clients.search_index import catch_up, defer_new_clients, purge_stale
from store.clients.targets import DELETE_CACHE_KIB, TOMBSTONE_TRIGGER, wait_for_checkpoints
from store.clients.unread import mark_unread, unread_count, unread_ids
from store.db import is_postgres, write_transaction
from store.filters import FilterError, parse_filter
from store.models import (
    AdminNotice,
    AuditLog,
    BlockHistory,
    CampaignRecipient,
    Client,
    ClientUnread,
    Label,
    LabelMembership,
    ListMembership,
    MailingList,
    Message,
    Operator,
    Variable,
)
from tests.factories import MOSCOW, client, operator
from tests.sqllog import captured_statements
from tests.test_search_index import index_agrees


@pytest.fixture(autouse=True)
def _checkpoints_waited_for(db: peewee.Database) -> Iterator[None]:
    """Each test sees only its own deletes' background checkpoints, all done before the
    database goes (store.clients.targets.checkpoint_in_background)."""
    wait_for_checkpoints()
    yield
    wait_for_checkpoints()


@pytest.fixture
def admin(db: peewee.Database) -> Operator:
    return operator(1, "Admin", "admin")


@pytest.fixture
def anna(admin: Operator) -> Operator:
    return operator(2, "Anna")


@pytest.fixture
def boris(admin: Operator) -> Operator:
    return operator(3, "Boris")


def bulk(action: str, arg: str | None, text: str, viewer: Operator, *, yes: bool = False) -> int:
    plan = plan_bulk(action, arg, parse_filter(text, viewer, MOSCOW), viewer)
    return run_bulk(plan, confirmed=yes).count


def named(**where: object) -> set[str]:
    """The names of the clients with these flags (``unread``: ``store.clients.unread``'s)."""
    query = Client.select()
    for key, value in where.items():
        if key == "unread":
            unread = Client.id.in_(unread_ids())
            query = query.where(unread if value else ~unread)
        else:
            query = query.where(getattr(Client, key) == value)
    return {c.name for c in query}


def labels_of(name: str) -> set[str]:
    return {
        m.label.name
        for m in LabelMembership.select()
        .join(Client)
        .switch(LabelMembership)
        .where(Client.name == name)
    }


def lists_of(name: str) -> set[str]:
    return {
        m.mailing_list.name for m in ListMembership.select().join(Client).where(Client.name == name)
    }


def test_flags_change_only_the_selected_clients_and_write_an_audit_row(admin: Operator) -> None:
    client("a", lists=("VIP",), unread=True)
    client("b", lists=("VIP",))
    client("c", unread=True)
    plan = plan_bulk("read", None, parse_filter("list:VIP", admin, MOSCOW), admin)
    assert plan.count == 2 and not plan.needs_confirmation
    assert named(unread=True) == {"a", "c"}  # planning changed nothing
    result = run_bulk(plan)
    assert (result.count, result.changed) == (2, 1)
    assert named(unread=True) == {"c"}
    audit = AuditLog.get_by_id(result.audit_id)
    assert (audit.operator_id, audit.action, audit.filter_text, audit.count) == (
        admin.id,
        "read",
        "list:VIP",
        2,
    )
    assert audit.detail == {"changed": 1}
    assert bulk("unread", None, "search:b", admin) == 1 and named(unread=True) == {"b", "c"}
    assert bulk("pin", None, "-list:VIP", admin) == 1 and named(pinned=True) == {"c"}
    assert bulk("unpin", None, "", admin) == 3 and named(pinned=True) == set()
    assert bulk("block", None, "a", admin) == 1 and named(blocked=True) == {"a"}
    assert bulk("unblock", None, "", admin) == 3 and named(blocked=True) == set()


def test_lists_and_labels_are_added_created_and_removed(admin: Operator) -> None:
    client("a", labels=("hot",))
    client("b")
    client("c", lists=("VIP",))
    plan = plan_bulk("label-add", 'hot,"new, one"', parse_filter("", admin, MOSCOW), admin)
    assert not Label.select().where(Label.name == "new, one").exists()  # plans write nothing
    result = run_bulk(plan)
    assert (result.count, result.changed) == (3, 5)  # a already had "hot"
    assert labels_of("a") == labels_of("b") == {"hot", "new, one"}
    assert bulk("label-remove", "HOT", "-list:VIP", admin) == 2  # names fold case
    assert labels_of("b") == labels_of("a") == {"new, one"}
    assert labels_of("c") == {"hot", "new, one"}
    assert bulk("list-add", "vip", "search:a", admin) == 1  # reuses VIP, no near-duplicate
    assert MailingList.select().count() == 1 and lists_of("a") == {"VIP"}
    assert bulk("list-add", "Gold", "list:VIP", admin) == 2
    assert bulk("list-remove", "VIP,Gold", "search:c", admin) == 1
    assert lists_of("c") == set() and lists_of("a") == {"VIP", "Gold"}
    assert bulk("list-add", "Empty", "search:nobody", admin) == 0  # created all the same
    assert MailingList.select().where(MailingList.name == "Empty").exists()
    with pytest.raises(ActionError, match="no label named 'hott'; did you mean 'hot'"):
        plan_bulk("label-remove", "hott", parse_filter("", admin, MOSCOW), admin)
    with pytest.raises(ActionError, match="empty name"):
        plan_bulk("label-add", "a,,b", parse_filter("", admin, MOSCOW), admin)


def test_bad_actions_and_arguments_are_refused_in_one_line(admin: Operator) -> None:
    flt = parse_filter("", admin, MOSCOW)
    cases = [
        ("lable-add", "x", "unknown action 'lable-add'; did you mean 'label-add'"),
        ("read", "x", "read takes no argument"),
        ("label-add", None, "label-add needs an argument"),
        ("assign", "Nobody", "no operator 'Nobody'"),
    ]
    for action, arg, message in cases:
        with pytest.raises(ActionError) as caught:
            plan_bulk(action, arg, flt, admin)
        assert message in str(caught.value) and "\n" not in str(caught.value)
    assert AuditLog.select().count() == 0


def _refer(row: Client, campaign_id: int) -> None:
    """A row naming ``row`` in each table that refers to clients besides its memberships,
    variables and block (``client`` made those)."""
    Message.create(client=row, bot=row.bot_id, direction="in", author_kind="client", text="hi")
    BlockHistory.create(client=row, block=row.block_id)
    AdminNotice.create(operator=operator(100 + row.id, "Notified"), chat_id=1, client=row)
    CampaignRecipient.create(campaign_id=campaign_id, client=row)
    mark_unread([row.id])  # client_unread (migration 1910)


def _foreign_keys_on(db: peewee.Database) -> bool:
    return is_postgres(db) or db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_delete_needs_confirmation_and_takes_every_row_naming_the_client(
    admin: Operator, db: peewee.Database
) -> None:
    gone = client("gone", lists=("VIP",), labels=("hot",), variables={"k": "v"}, block="B1")
    kept = client("kept", lists=("VIP",), labels=("hot",), variables={"k": "v"}, block="B1")
    for row in (gone, kept):
        _refer(row, 1)
    plan = plan_bulk("delete", None, parse_filter("gone", admin, MOSCOW), admin)
    assert plan.needs_confirmation and plan.count == 1
    with pytest.raises(ActionError, match="needs confirmation; nothing was done"):
        run_bulk(plan)
    assert Client.select().count() == 2 and AuditLog.select().count() == 0
    assert run_bulk(plan, confirmed=True).count == 1
    assert named() == {"kept"}
    referring = set(Client._meta.backrefs.values())
    assert referring == {
        AdminNotice,
        BlockHistory,
        CampaignRecipient,
        ClientUnread,
        LabelMembership,
        ListMembership,
        Message,
        Variable,
    }
    for model in referring:
        assert {r.client_id for r in model.select()} == {kept.id}, model.__name__
    assert AuditLog.get().action == "delete"
    # SQLite ran the delete without foreign keys (store.clients.targets.deleting_clients):
    # they are on again and nothing refers to a missing row.
    assert _foreign_keys_on(db)
    if not is_postgres(db):
        assert db.execute_sql("PRAGMA foreign_key_check").fetchall() == []


def test_sqlite_declares_no_reference_the_delete_statements_would_miss(
    sqlite_db: peewee.Database,
) -> None:
    """``deleting_clients`` turns SQLite's foreign keys off because ``delete_clients``
    deletes from every table the database says refers to a client, and nothing refers to
    those: the database's own declared keys, not only the models', say so."""
    tables = [
        r[0] for r in sqlite_db.execute_sql("SELECT name FROM sqlite_schema WHERE type = 'table'")
    ]
    references: dict[str, set[tuple[str, str]]] = {}
    for table in tables:
        for key in sqlite_db.execute_sql(f'PRAGMA foreign_key_list("{table}")'):
            references.setdefault(key[2], set()).add((table, key[6]))
    referring = {m._meta.table_name for m in Client._meta.backrefs.values()}
    assert references["client"] == {(t, "CASCADE") for t in referring}
    assert not referring & set(references), "a table referring to a client is itself referred to"


def test_a_refused_delete_turns_foreign_keys_back_on(
    admin: Operator, anna: Operator, db: peewee.Database
) -> None:
    client("gone")
    plan = plan_bulk("delete", None, parse_filter("gone", anna, MOSCOW), anna)
    Operator.delete().where(Operator.id == anna.id).execute()
    with pytest.raises(ActionError, match=f"operator {anna.id} no longer exists"):
        run_bulk(plan, confirmed=True)
    assert named() == {"gone"} and AuditLog.select().count() == 0
    assert _foreign_keys_on(db) and wait_for_checkpoints() == []
    if not is_postgres(db):
        assert db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000


def test_a_delete_on_sqlite_checkpoints_its_wal_after_commit_in_a_thread(
    admin: Operator, db: peewee.Database
) -> None:
    for n in range(3):
        gone = client(f"gone {n}", lists=("VIP",), variables={"k": "v"}, block="B1")
        _refer(gone, n + 1)
    with captured_statements() as seen:
        assert bulk("delete", None, "gone", admin, yes=True) == 3
        checkpoints = wait_for_checkpoints()
    assert named() == set()
    if is_postgres(db):
        assert checkpoints == [] and not [s for s in seen if "wal_" in s]
        return
    # One passive checkpoint, after the commit, that copied every frame of the WAL back.
    assert len(checkpoints) == 1
    busy, frames, copied = checkpoints[0]
    assert busy == 0 and frames == copied > 0
    automatic = [n for n, sql in enumerate(seen) if sql.startswith("PRAGMA wal_autocheckpoint =")]
    deletes = [n for n, sql in enumerate(seen) if sql.startswith('DELETE FROM "')]
    assert [seen[n] for n in automatic] == [
        "PRAGMA wal_autocheckpoint = 0",
        "PRAGMA wal_autocheckpoint = 1000",
    ]
    assert automatic[0] < deletes[0] and deletes[-1] < automatic[1]
    assert seen.index("PRAGMA wal_checkpoint(PASSIVE)") > automatic[1]
    assert db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000


def test_a_delete_on_sqlite_writes_the_search_tombstones_in_one_statement(
    sqlite_db: peewee.Database,
) -> None:
    """The deleted clients' values go to client_fts_stale as client_fts_ad would put them,
    and only for clients the index holds (not those an unfinished import left for catch_up);
    the trigger is back, unchanged, for the next delete; the index agrees after the purge."""
    admin = operator(1, "Admin", "admin")
    old = client("gone old", "m-old", lists=("Gone",))
    with write_transaction():
        defer_new_clients()  # an import in progress: clients after this are not indexed yet
    new = client("gone new", "m-new", lists=("Gone",))
    kept = client("kept", "m-kept")
    with captured_statements() as seen:
        assert bulk("delete", None, "list:Gone", admin, yes=True) == 2
    assert "DROP TRIGGER client_fts_ad" in seen and TOMBSTONE_TRIGGER in seen
    stale = sqlite_db.execute_sql("SELECT id, name, messenger_id FROM client_fts_stale").fetchall()
    assert stale == [(old.id, "gone old", "m-old")]
    trigger = "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = 'client_fts_ad'"
    assert sqlite_db.execute_sql(trigger).fetchone()[0] == TOMBSTONE_TRIGGER
    catch_up()
    while purge_stale():
        pass
    assert index_agrees(sqlite_db) and new.id > old.id
    kept.delete_instance()  # one client, the trigger's way
    assert sqlite_db.execute_sql("SELECT id FROM client_fts_stale").fetchall() == [(kept.id,)]


def test_a_delete_inside_a_transaction_keeps_foreign_keys_on(
    admin: Operator, db: peewee.Database
) -> None:
    gone = client("gone", lists=("VIP",), labels=("hot",), variables={"k": "v"}, block="B1")
    _refer(gone, 1)
    with captured_statements() as seen, db.atomic():
        assert bulk("delete", None, "gone", admin, yes=True) == 1
    assert not [sql for sql in seen if sql.startswith(("PRAGMA foreign_keys", "PRAGMA wal_"))]
    assert wait_for_checkpoints() == []  # the caller's commit checkpoints as usual
    assert named() == set() and _foreign_keys_on(db)
    for model in Client._meta.backrefs.values():
        assert not model.select().exists(), model.__name__


def test_a_delete_on_sqlite_has_a_bigger_page_cache_and_gives_it_back(
    admin: Operator, db: peewee.Database
) -> None:
    for n in range(3):
        client(f"gone {n}", variables={"k": "v"})

    def cache_size() -> int | None:
        return None if is_postgres(db) else db.execute_sql("PRAGMA cache_size").fetchone()[0]

    kept = cache_size()
    with captured_statements() as seen:
        assert bulk("delete", None, "gone", admin, yes=True) == 3
    assert named() == set() and cache_size() == kept
    deletes = [n for n, sql in enumerate(seen) if sql.startswith('DELETE FROM "')]
    sized = [n for n, sql in enumerate(seen) if sql.startswith("PRAGMA cache_size = ")]
    if kept is None:  # PostgreSQL: the clients only; their dependants go in 1430's trigger
        assert len(deletes) == 1 and sized == []
        return
    assert len(deletes) == 9  # the 8 tables referring to clients (client_unread: 1910), then them
    keys = [sql for sql in seen if sql.startswith("PRAGMA foreign_keys = ")]
    assert keys == ["PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys = ON"]
    assert seen[sized[0]] == f"PRAGMA cache_size = {-DELETE_CACHE_KIB}" and kept > -DELETE_CACHE_KIB
    assert sized[0] < deletes[0] and deletes[-1] < sized[1]
    assert seen[sized[1]] == f"PRAGMA cache_size = {kept}"


def test_an_operator_acts_only_on_their_own_and_free_clients(
    admin: Operator, anna: Operator, boris: Operator
) -> None:
    client("annas", responsible=anna, unread=True)
    client("boris's", responsible=boris, unread=True)
    client("free", unread=True)
    assert plan_bulk("pin", None, parse_filter("", anna, MOSCOW), anna).count == 2
    assert bulk("pin", None, "", anna) == 2
    assert named(pinned=True) == {"annas", "free"}
    assert bulk("delete", None, "boris", anna, yes=True) == 0  # out of scope: untouched
    assert "boris's" in named()
    assert bulk("assign", "me", "tab:free", anna) == 1
    assert {c.name for c in Client.select().where(Client.responsible == anna.id)} == {
        "annas",
        "free",
    }
    with pytest.raises(ActionError, match="not give them to another operator"):
        plan_bulk("assign", "Boris", parse_filter("", anna, MOSCOW), anna)
    assert bulk("assign", "none", "free", anna) == 1 and named(responsible=None) == {"free"}
    assert bulk("assign", "Boris", "", admin) == 3  # an admin acts on every client
    assert named(responsible=boris.id) == {"annas", "boris's", "free"}
    audit = AuditLog.select().where(AuditLog.operator == admin.id).get()
    assert (audit.action, audit.count, audit.detail["argument"]) == ("assign", 3, "Boris")


def test_read_all_and_purge_unsubscribed_stay_in_scope(
    admin: Operator, anna: Operator, boris: Operator
) -> None:
    client("annas", responsible=anna, unread=True, unsubscribed=True)
    client("boris's", responsible=boris, unread=True, blocked=True)
    client("free", unread=True)
    client("free blocked", blocked=True)
    client("ok")
    assert run_bulk(plan_read_all(anna)).count == 4  # annas, free, free blocked, ok
    assert named(unread=True) == {"boris's"}
    plan = plan_purge_unsubscribed(anna)
    assert plan.count == 2 and plan.needs_confirmation
    with pytest.raises(ActionError):
        run_bulk(plan)
    result = run_bulk(plan, confirmed=True)
    assert named() == {"boris's", "free", "ok"}
    audit = AuditLog.get_by_id(result.audit_id)
    assert (audit.action, audit.count, audit.filter_text) == (
        "purge-unsubscribed",
        2,
        "blocked or unsubscribed",
    )
    assert run_bulk(plan_purge_unsubscribed(admin), confirmed=True).count == 1
    assert named() == {"free", "ok"}
    assert AuditLog.select().order_by(AuditLog.id).first().action == "read-all"


def test_unread_counters_admin_total_operator_own(
    admin: Operator, anna: Operator, boris: Operator
) -> None:
    client("a1", responsible=anna, unread=True)
    client("a2", responsible=anna, unread=True)
    client("a3", responsible=anna)
    client("b1", responsible=boris, unread=True)
    client("f1", unread=True)
    assert unread_count(admin) == 4
    assert unread_count(anna) == 2
    assert unread_count(boris) == 1
    bulk("read", None, "a1", anna)
    assert (unread_count(admin), unread_count(anna)) == (3, 1)


def test_saved_filters_per_operator(admin: Operator, anna: Operator) -> None:
    client("vip", lists=("VIP",))
    client("other")
    assert save_filter(anna, "vips", "list:VIP sort:created", MOSCOW) is False
    assert save_filter(anna, "vips", "list:VIP", MOSCOW) is True  # replaced
    assert get_saved(anna, "vips").query == "list:VIP"
    assert [f.name for f in list_saved(anna)] == ["vips"] and list_saved(admin) == []
    assert bulk("label-add", "hot", "saved:vips", anna) == 1 and labels_of("vip") == {"hot"}
    with pytest.raises(FilterError, match="no saved filter named 'vips'"):
        parse_filter("saved:vips", admin, MOSCOW)  # another operator's
    with pytest.raises(FilterError, match="did you mean 'VIP'"):
        save_filter(anna, "bad", "list:VIPP", MOSCOW)
    with pytest.raises(ActionError, match="cannot include itself"):
        save_filter(anna, "loop", "saved:loop", MOSCOW)
    with pytest.raises(ActionError, match="did you mean 'vips'"):
        get_saved(anna, "vip")
    shell = Operator(role="admin", name="shell", telegram_id=0)
    with pytest.raises(ActionError, match="--as"):
        save_filter(shell, "x", "vip", MOSCOW)
    delete_saved(anna, "vips")
    assert list_saved(anna) == []
    with pytest.raises(ActionError):
        delete_saved(anna, "vips")


@pytest.fixture
def statements() -> Iterator[list[str]]:
    with captured_statements() as seen:
        yield seen


def test_statement_count_does_not_grow_with_the_number_of_clients(
    admin: Operator, statements: list[str]
) -> None:
    for action in ("label-add", "delete", "read", "assign"):
        counts = []
        for n in (3, 30):
            # labels without members each time: a label with members takes ON CONFLICT
            # instead of a savepoint around a plain INSERT (store.clients.bulk), fewer statements
            arg = {"label-add": f"x{n},y{n}", "assign": "Admin"}.get(action)
            for i in range(n):
                client(f"{action}{n}-{i}", unread=True)
            statements.clear()
            assert bulk(action, arg, f"search:{action}{n}-", admin, yes=True) == n
            wait_for_checkpoints()  # the delete's, in its thread: counted every time
            counts.append(len(statements))
        # delete: one statement per table referring to clients (store.clients.targets;
        # client_unread's too, migration 1910), and on SQLite three for its page cache (read,
        # raised, restored), three for its foreign keys (read, off, on), the operator's
        # existence (checked instead of its key), three for the automatic checkpoint (read,
        # off, restored) and the checkpoint after, four for the search tombstones (the trigger
        # read, dropped, created; the insert)
        assert counts[0] == counts[1] <= 30, (action, counts)


def test_run_evaluates_the_filter_once_and_reports_matched_and_changed(
    admin: Operator, statements: list[str]
) -> None:
    for i in range(5):
        client(f"once-{i}", unread=i < 2)
    client("other", unread=True)
    plan = plan_bulk("read", None, parse_filter("search:once-", admin, MOSCOW), admin)
    statements.clear()
    result = run_bulk(plan)
    assert (result.count, result.changed) == (5, 2)
    searching = [s for s in statements if "client_fts" in s or "ILIKE" in s]
    assert len(searching) == 1, searching  # the copy into bulk_target; the rest read it
    assert named(unread=True) == {"other"}
    # the ids copied for one action are gone with it: the next one starts empty
    assert bulk("pin", None, "other", admin) == 1 and named(pinned=True) == {"other"}
