"""Unread clients through ``store.clients.unread`` (issue 14 item 4), on SQLite and PostgreSQL:
the writers mark only what changes; merge, delete, ingest and bulk actions keep Unanswered
right, and the badge always equals the Unanswered tab's count."""

from __future__ import annotations

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.clients.bulk import plan_bulk, run_bulk
from store.clients.query import count_clients
from store.clients.unread import is_unread, mark_read, mark_unread, unread_count, unread_ids
from store.filters import parse_filter
from store.identities import merge_clients
from store.inbound import InboundMessage, record_inbound_many
from store.models import Client, Operator
from tests.factories import MOSCOW, bot, client, operator
from tests.sqllog import captured_statements


@pytest.fixture
def admin(db: peewee.Database) -> Operator:
    return operator(1, "Admin", "admin")


def unread_names() -> set[str]:
    return {c.name for c in Client.select().where(Client.id.in_(unread_ids()))}


def tab_count(text: str, viewer: Operator) -> int:
    return count_clients(parse_filter(text, viewer, MOSCOW), viewer)


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
        st.sampled_from(("read", "unread", "ingest", "delete", "assign", "bulk-read")),
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
            responsible = ops[who].id if who else None
            Client.update(responsible=responsible).where(Client.id == existing.id).execute()
        elif action == "bulk-read":
            viewer = ops[who] if who else admin
            run_bulk(plan_bulk("read", None, parse_filter(messenger_id, viewer, MOSCOW), viewer))
        assert unread_count(admin) == tab_count("tab:unanswered", admin)
        for viewer in ops.values():
            assert unread_count(viewer) == tab_count("unanswered responsible:me", viewer)
