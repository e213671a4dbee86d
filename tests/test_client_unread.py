"""Unread clients through ``store.clients.unread`` (issue 14 item 4), on SQLite and PostgreSQL:
the writers mark only what changes; merge, delete, ingest and bulk actions keep Unanswered
right, and the badge always equals the Unanswered tab's count. The narrow table
``client_unread`` (migration 1910) holds exactly the unread clients, each with its client's
current responsible, whatever assigns, frees, merges or deletes them."""

from __future__ import annotations

import peewee
import peewee as pw
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.admin import ADMIN_COMMANDS
from commands.admin.clients import tab_counts
from store.assignment import assign, set_autoassign, set_on_shift
from store.clients.bulk import plan_bulk, run_bulk
from store.clients.query import count_clients, unread_rows
from store.clients.unread import is_unread, mark_read, mark_unread, unread_count, unread_ids
from store.filters import parse_filter
from store.identities import merge_clients
from store.inbound import InboundMessage, record_inbound_many
from store.models import Client, ClientUnread, Operator
from store.permissions import set_override
from tests.admin_support import make_staff
from tests.factories import MOSCOW, bot, client, operator
from tests.sqllog import captured_statements


@pytest.fixture
def admin(db: peewee.Database) -> Operator:
    return operator(1, "Admin", "admin")


def unread_names() -> set[str]:
    return {c.name for c in Client.select().where(Client.id.in_(unread_ids()))}


def tab_count(text: str, viewer: Operator) -> int:
    return count_clients(parse_filter(text, viewer, MOSCOW), viewer)


def narrow() -> dict[int, int | None]:
    """``client_unread`` as {client id: responsible id}."""
    return {row.client_id: row.responsible_id for row in ClientUnread.select()}


def assert_in_step() -> dict[int, int | None]:
    """Every unread row names an existing client and carries that client's responsible."""
    rows = narrow()
    clients = Client.select(Client.id, Client.responsible).where(Client.id.in_(list(rows)))
    assert {c.id: c.responsible_id for c in clients} == rows
    return rows


def message(messenger_id: str, key: str) -> InboundMessage:
    return InboundMessage(bot_name="shop_tg", messenger_id=messenger_id, dedup_key=key, text="hi")


def test_a_new_message_marks_unread_with_the_responsible_in_one_insert(admin: Operator) -> None:
    bot("shop_tg")
    anna, boris = operator(2, "anna"), operator(3, "boris")
    set_autoassign(True)
    set_on_shift(anna.id, True)
    bound = client("bound", "m-bound", responsible=boris)
    with captured_statements() as seen:
        record_inbound_many([message("m-new", "k1"), message("m-bound", "k2")])
    new = Client.get(Client.messenger_id == "m-new")
    assert new.responsible_id == anna.id  # round-robin, before the unread row was written
    assert assert_in_step() == {new.id: anna.id, bound.id: boris.id}
    inserts = [s for s in seen if 'INTO "client_unread"' in s]
    assert len(inserts) == 1  # one statement for the batch, not one per client
    assert unread_count(anna) == 1 == unread_count(boris) and unread_count(admin) == 2


def test_assignment_keeps_the_unread_rows_responsible(admin: Operator) -> None:
    anna, boris = operator(2, "anna"), operator(3, "boris")
    a, b, c = (client(n, unread=n != "c") for n in ("a", "b", "c"))
    assign([a.id, c.id], anna.id)
    assert assert_in_step() == {a.id: anna.id, b.id: None}
    assign([a.id], boris.id)  # reassigned
    assert assert_in_step() == {a.id: boris.id, b.id: None}
    assign([a.id], None)  # freed
    assert assert_in_step() == {a.id: None, b.id: None}
    bulk = plan_bulk("assign", "boris", parse_filter("", admin, MOSCOW), admin)
    assert run_bulk(bulk).changed == 3
    assert assert_in_step() == {a.id: boris.id, b.id: boris.id}
    some = plan_bulk("assign", "anna", parse_filter(f"client:{b.id}", admin, MOSCOW), admin)
    run_bulk(some)
    assert assert_in_step() == {a.id: boris.id, b.id: anna.id}
    mark_unread([c.id])  # marked unread later: with its responsible now
    assert assert_in_step() == {a.id: boris.id, b.id: anna.id, c.id: boris.id}
    assert unread_count(anna) == 1 and unread_count(boris) == 2


@pytest.mark.parametrize("bound_to", ["keep", "gone", "both"])
def test_a_merge_keeps_the_responsible(admin: Operator, bound_to: str) -> None:
    anna, boris = operator(2, "anna"), operator(3, "boris")
    keep = client("keep", unread=True, responsible=anna if bound_to != "gone" else None)
    gone = client("gone", unread=True, responsible=boris if bound_to != "keep" else None)
    merge_clients(keep=keep, gone=gone)
    expected = boris.id if bound_to == "gone" else anna.id
    assert Client.get_by_id(keep.id).responsible_id == expected
    assert assert_in_step() == {keep.id: expected}


def test_a_read_client_merged_with_an_unread_one_takes_the_kept_responsible(
    admin: Operator,
) -> None:
    boris = operator(3, "boris")
    keep = client("keep")  # read, free
    gone = client("gone", unread=True, responsible=boris)
    merge_clients(keep=keep, gone=gone)
    assert assert_in_step() == {keep.id: boris.id}


def test_removing_or_deleting_an_operator_frees_their_unread_clients(db: peewee.Database) -> None:
    staff = make_staff()
    boris, vera = staff["operator"].operator, staff["other"].operator
    mine = client("mine", unread=True, responsible=boris)
    hers = client("hers", unread=True, responsible=vera)
    read = client("read", responsible=boris)
    reply = ADMIN_COMMANDS.handle_text(staff["admin"], f"/operators remove {boris.telegram_id}")
    assert "2 of their clients are free" in reply.text
    assert Client.get_by_id(read.id).responsible_id is None
    assert assert_in_step() == {mine.id: None, hers.id: vera.id}
    assert unread_count(boris) == 0 and unread_count(vera) == 1
    Operator.delete().where(Operator.id == vera.id).execute()  # ON DELETE SET NULL, both
    assert assert_in_step() == {mine.id: None, hers.id: None}


def test_unanswered_is_counted_from_the_narrow_table_alone(db: peewee.Database) -> None:
    staff = make_staff()
    admin, boris = staff["admin"], staff["operator"]
    vera = staff["other"].operator
    for n, owner in enumerate((boris.operator, boris.operator, vera, None, None, None)):
        labels = ("hot",) if n in (0, 1, 3) else ()
        client(f"c{n}", unread=n % 2 == 0 or owner is None, responsible=owner, labels=labels)
    client("read one", responsible=vera, labels=("hot",))
    for text, viewer in (
        ("unanswered", admin.operator),
        ("unanswered tab:mine", boris.operator),
        ("tab:unanswered responsible:none", admin.operator),
        ("unanswered sort:created", boris.operator),
        ("label:hot unanswered", admin.operator),
        ("-label:hot tab:unanswered", boris.operator),
    ):
        flt = parse_filter(text, viewer, MOSCOW)
        query = unread_rows(flt, viewer, pw.SQL("1"))
        assert query is not None, text
        assert "client_unread" in query.sql()[0] and '"client" AS' not in query.sql()[0]
    for text in ("tab:mine", "search:c unanswered", "unanswered after:2020-01-01"):
        assert unread_rows(parse_filter(text, boris.operator, MOSCOW), boris.operator) is None
    # The tab counts of /clients unanswered, the narrow way, against the clients themselves.
    vera_ctx = staff["other"]
    set_override(vera, "view_others", False, vera_ctx.settings.permissions)
    vera_ctx = make_staff()["other"]  # her capabilities read again
    assert not vera_ctx.can("view_others")
    for ctx in (admin, boris, vera_ctx):
        counts = tab_counts(parse_filter("unanswered", ctx.operator, MOSCOW), ctx)
        in_scope = Client.select().where(Client.id.in_(unread_ids()))
        if not ctx.can("view_others"):
            in_scope = in_scope.where(
                Client.responsible.is_null() | (Client.responsible == ctx.operator.id)
            )
        rows = list(in_scope)
        me = ctx.operator.id
        expected = {
            "all": len(rows),
            "unanswered": len(rows),
            "mine": sum(c.responsible_id == me for c in rows),
            "others": sum(c.responsible_id not in (None, me) for c in rows),
            "free": sum(c.responsible_id is None for c in rows),
        }
        assert {name: count.value for name, count in counts.items()} == expected, ctx
    assert tab_count("label:hot unanswered", admin.operator) == 2  # c0, c3
    assert tab_count("-label:hot unanswered tab:free", admin.operator) == 2  # c4, c5
    assert tab_count("unanswered", admin.operator) == 5
    assert tab_count("unanswered", boris.operator) == 4  # his one and the three free


def test_mark_read_and_unread_write_only_what_changes(admin: Operator) -> None:
    a, b = client("a"), client("b")
    with captured_statements() as seen:
        assert mark_unread([a.id, b.id, a.id]) == 2
        assert mark_unread([a.id]) == 0  # already unread: nothing written
        assert mark_read([b.id]) == 1 and mark_read([b.id]) == 0
        assert mark_read([]) == 0 and mark_unread([]) == 0  # no statement at all
    assert len(seen) == 4
    assert unread_names() == {"a"} and is_unread(a.id) and not is_unread(b.id)


def test_a_merged_client_is_unread_if_either_was(admin: Operator) -> None:
    for keep_unread, gone_unread in ((False, True), (True, False), (False, False)):
        keep = client(f"keep {keep_unread}{gone_unread}", unread=keep_unread)
        gone = client(f"gone {keep_unread}{gone_unread}", unread=gone_unread)
        merge_clients(keep=keep, gone=gone)
        assert is_unread(keep.id) == (keep_unread or gone_unread)
        assert Client.get_or_none(Client.id == gone.id) is None


def test_deleting_clients_deletes_their_rows(admin: Operator) -> None:
    one, kept = client("one", unread=True), client("kept")
    client("two", unread=True)
    mark_unread([kept.id])
    Client.delete().where(Client.id == one.id).execute()
    plan = plan_bulk("delete", None, parse_filter("two", admin, MOSCOW), admin)
    assert run_bulk(plan, confirmed=True).count == 1
    assert list(unread_ids().tuples()) == [(kept.id,)]
    assert unread_count(admin) == 1 == tab_count("tab:unanswered", admin)


def test_ingest_marks_unread_unless_told_not_to(admin: Operator) -> None:
    bot("shop_tg")
    seen_before = client("seen", "m-seen")
    events = [
        InboundMessage(bot_name="shop_tg", messenger_id=m, dedup_key=f"k:{m}:{n}", text="hi")
        for n, m in enumerate(("m-new", "m-seen", "m-new", "m-other"))
    ]
    service = InboundMessage(
        bot_name="shop_tg", messenger_id="m-quiet", dedup_key="k:quiet", text="", mark_unread=False
    )
    record_inbound_many([*events, service])
    assert unread_names() == {"seen", "m-new", "m-other"}
    assert is_unread(seen_before.id)
    quiet = Client.get(Client.messenger_id == "m-quiet")
    assert not is_unread(quiet.id)
    assert unread_count(admin) == 3 == tab_count("unanswered", admin)
    mark_read([seen_before.id])
    record_inbound_many([events[1]])  # a redelivery: nothing new, stays read
    assert not is_unread(seen_before.id)


def test_bulk_read_and_unread_count_what_they_changed(admin: Operator) -> None:
    ids = [client(f"c{n}", unread=n < 2).id for n in range(4)]
    read = run_bulk(plan_bulk("read", None, parse_filter("c", admin, MOSCOW), admin))
    assert (read.count, read.changed) == (4, 2) and unread_names() == set()
    unread = run_bulk(
        plan_bulk("unread", None, parse_filter(f"client:{ids[1]},{ids[2]}", admin, MOSCOW), admin)
    )
    assert unread.changed == 2 and unread_names() == {"c1", "c2"}
    again = run_bulk(plan_bulk("unread", None, parse_filter("", admin, MOSCOW), admin))
    assert (again.count, again.changed) == (4, 2)
    everyone = run_bulk(plan_bulk("read", None, parse_filter("", admin, MOSCOW), admin))
    assert (everyone.count, everyone.changed) == (4, 4) and unread_names() == set()


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ("read", "unread", "ingest", "delete", "assign", "bulk-read", "bulk-assign")
        ),
        st.integers(0, 5),
        st.sampled_from((None, "anna", "boris")),
    ),
    max_size=25,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=ACTIONS)
def test_the_badge_always_equals_the_unanswered_tab(
    admin: Operator, steps: list[tuple[str, int, str | None]]
) -> None:
    Client.delete().execute()
    ops = {
        name: Operator.get_or_create(telegram_id=tg, defaults={"name": name})[0]
        for name, tg in (("anna", 2), ("boris", 3))
    }
    bot("shop_tg")
    for n, (action, which, who) in enumerate(steps):
        messenger_id = f"p{which}"
        existing = Client.get_or_none(Client.messenger_id == messenger_id)
        if action == "ingest" or existing is None:
            event = InboundMessage(
                bot_name="shop_tg", messenger_id=messenger_id, dedup_key=f"h:{n}", text="hi"
            )
            record_inbound_many([event])
            existing = Client.get(Client.messenger_id == messenger_id)
        if action == "read":
            mark_read([existing.id])
        elif action == "unread":
            mark_unread([existing.id])
        elif action == "delete":
            Client.delete().where(Client.id == existing.id).execute()
        elif action == "assign":
            assign([existing.id], ops[who].id if who else None)
        elif action == "bulk-assign":
            filter_text = "" if which == 0 else messenger_id
            plan = plan_bulk(
                "assign", who or "none", parse_filter(filter_text, admin, MOSCOW), admin
            )
            run_bulk(plan)
        elif action == "bulk-read":
            viewer = ops[who] if who else admin
            run_bulk(plan_bulk("read", None, parse_filter(messenger_id, viewer, MOSCOW), viewer))
        assert unread_count(admin) == tab_count("tab:unanswered", admin)
        assert_in_step()
        for viewer in ops.values():
            assert unread_count(viewer) == tab_count("unanswered responsible:me", viewer)
