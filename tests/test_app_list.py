"""The Mini App's list layer (commands.app.client_list, client_actions) against the store, on
SQLite and PostgreSQL: tabs and scope, keyset pages while messages arrive, cards as /preview
chose, select-all + bulk with a one-use confirmation, capabilities, saved filters."""

from __future__ import annotations

import datetime as dt

import peewee
import pytest

from commands.admin import CommandContext
from commands.admin.context import CommandError, Refused
from commands.admin.preferences import preferences_of
from commands.app import client_actions as actions
from commands.app.client_actions import Selection
from commands.app.client_list import list_view, tab_list
from config import Settings
from store.clients.unread import unread_ids
from store.clock import utcnow
from store.models import AuditLog, Client, Label, LabelMembership, OperatorPreference
from store.permissions import set_override
from tests import factories as f
from tests.admin_support import make_staff
from tests.sqllog import captured_statements


@pytest.fixture
def staff(db: peewee.Database) -> dict[str, CommandContext]:
    return make_staff()


def _world(staff: dict[str, CommandContext]) -> dict[str, list[Client]]:
    """Boris's clients (2, one unread), Vera's (3), free ones (4, two unread)."""
    boris, vera = staff["operator"].operator.id, staff["other"].operator.id
    t0 = utcnow() - dt.timedelta(hours=1)
    return {
        "boris": [
            f.client(f"Boris {i}", responsible=boris, unread=i == 0, last_action_at=t0)
            for i in range(2)
        ],
        "vera": [f.client(f"Vera {i}", responsible=vera, last_action_at=t0) for i in range(3)],
        "free": [f.client(f"Free {i}", unread=i < 2, last_action_at=t0) for i in range(4)],
    }


def _counts(ctx: CommandContext, text: str = "") -> dict[str, str]:
    return {t.name: t.count for t in tab_list(ctx, text)}


def test_tabs_count_within_the_viewers_scope(staff: dict[str, CommandContext]) -> None:
    _world(staff)
    assert _counts(staff["admin"]) == {
        "all": "9",
        "unanswered": "3",
        "mine": "0",
        "others": "5",
        "free": "4",
    }
    boris = staff["operator"]
    assert _counts(boris) == {
        "all": "9",
        "unanswered": "3",
        "mine": "2",
        "others": "3",
        "free": "4",
    }
    assert {c.name for c in list_view(boris, "", "mine").cards} == {"Boris 0", "Boris 1"}
    set_override(boris.operator, "view_others", False, Settings().permissions)
    assert _counts(boris)["others"] == "0"
    names = {c.name for c in list_view(boris, "").cards}
    assert not any(n.startswith("Vera") for n in names) and len(names) == 6
    assert list_view(boris, "").unread == 1  # the header's F15 counter: his own unread


def test_keyset_pages_neither_repeat_nor_skip_while_messages_arrive(
    staff: dict[str, CommandContext],
) -> None:
    t0 = utcnow() - dt.timedelta(hours=1)
    made = [f.client(f"c{n:02}", last_action_at=t0 - dt.timedelta(minutes=n)).id for n in range(25)]
    admin = staff["admin"]
    first = list_view(admin, "", per_page=10)
    assert [c.id for c in first.cards] == made[:10] and first.next_cursor
    # New messages move two clients of page 1 and one of page 3 to the top.
    moved = [made[1], made[5], made[22]]
    Client.update(last_action_at=utcnow()).where(Client.id.in_(moved)).execute()
    second = list_view(admin, "", after=first.next_cursor, per_page=10)
    assert [c.id for c in second.cards] == made[10:20]
    third = list_view(admin, "", after=second.next_cursor, per_page=10)
    assert [c.id for c in third.cards] == [i for i in made[20:] if i != made[22]]
    assert third.next_cursor is None
    with pytest.raises(CommandError, match="cursor"):
        list_view(admin, "", after="garbled", per_page=10)


def test_a_later_page_given_the_first_count_counts_nothing(
    staff: dict[str, CommandContext],
) -> None:
    t0 = utcnow() - dt.timedelta(hours=1)
    for n in range(12):
        f.client(f"c{n:02}", unread=True, last_action_at=t0 - dt.timedelta(minutes=n))
    admin = staff["admin"]
    first = list_view(admin, "unanswered", per_page=5)
    assert first.unread == 12 and first.next_cursor
    known = (first.value, first.exact)
    with captured_statements() as fresh:
        again = list_view(admin, "unanswered", after=first.next_cursor, per_page=5)
    with captured_statements() as given:
        second = list_view(admin, "unanswered", after=first.next_cursor, per_page=5, known=known)
    assert [c.id for c in second.cards] == [c.id for c in again.cards]
    assert second.unread is None and (second.value, second.exact) == (12, True)
    assert not [q for q in given if "count" in q.lower()]
    assert len(given) == len(fresh) - 1  # the capped count, and nothing else, is saved


def test_cards_pinned_first_with_unread_marks_and_the_chosen_fields(
    staff: dict[str, CommandContext],
) -> None:
    admin = staff["admin"]
    f.client("Old pinned", pinned=True, last_action_at=utcnow() - dt.timedelta(days=3))
    f.client("Fresh", unread=True, lists=("VIP",), variables={"city": "Omsk"}, blocked=True)
    cards = list_view(admin, "").cards
    assert [c.name for c in cards] == ["Old pinned", "Fresh"]
    assert cards[0].pinned and not cards[0].unread and cards[1].unread
    assert cards[1].marks == ["blocked"]
    assert [x.key for x in cards[1].fields] == ["last_action", "responsible"]  # the defaults
    pref = preferences_of(admin.operator.id)
    OperatorPreference.update(
        preview_fields=["lists", "messenger_id"], preview_variables=["city"]
    ).where(OperatorPreference.id == pref.id).execute()
    fields = {x.key: x.value for x in list_view(admin, "").cards[1].fields}
    assert list(fields) == ["messenger_id", "lists", "var:city"]
    assert fields["lists"] == "VIP" and fields["var:city"] == "Omsk"


def test_select_all_label_add_reaches_the_store_after_one_confirmation(
    staff: dict[str, CommandContext],
) -> None:
    world = _world(staff)
    boris = staff["operator"]
    chosen = Selection(text="", tab="all", all=True)
    planned = actions.plan(boris, "label-add", "hot", chosen)
    # Boris sees Vera's clients but acts only on his and the free ones.
    assert planned.count == 6 and planned.token
    assert planned.question == "label-add hot — 6 clients (yours and free ones only). Confirm?"
    assert not LabelMembership.select().exists()  # planning writes nothing
    done = actions.confirm(boris, planned.token)
    assert (done.count, done.changed) == (6, 6)
    labelled = {m.client_id for m in LabelMembership.select()}
    assert labelled == {c.id for c in world["boris"] + world["free"]}
    assert Label.get(Label.name == "hot")
    assert AuditLog.select().where(AuditLog.action == "label-add").count() == 1
    with pytest.raises(CommandError, match="already confirmed"):
        actions.confirm(boris, planned.token)  # a double tap runs nothing twice


def test_picked_ids_and_tab_narrow_the_selection(staff: dict[str, CommandContext]) -> None:
    world = _world(staff)
    admin = staff["admin"]
    picked = Selection(text="", tab="free", ids=(world["free"][0].id, world["vera"][0].id))
    assert actions.selection_count(admin, picked) == 1  # Vera's client is not in Free
    planned = actions.plan(admin, "pin", None, picked)
    actions.confirm(admin, planned.token or "")
    assert [c.name for c in Client.select().where(Client.pinned == True)] == ["Free 0"]  # noqa: E712
    with pytest.raises(CommandError, match="choose some clients"):
        actions.plan(admin, "pin", None, Selection())
    with pytest.raises(CommandError, match="tab"):
        actions.plan(admin, "pin", None, Selection(tab="nope", all=True))


def test_each_action_checks_its_capability(staff: dict[str, CommandContext]) -> None:
    _world(staff)
    boris = staff["operator"]
    everyone = Selection(all=True)
    with pytest.raises(Refused, match="'delete'"):
        actions.plan(boris, "delete", None, everyone)
    names = [a.name for a in actions.allowed_actions(boris)]
    assert "delete" not in names and "label-add" in names
    planned = actions.plan(boris, "read", None, everyone)
    set_override(boris.operator, "bulk", False, Settings().permissions)
    with pytest.raises(Refused, match="'bulk'"):
        actions.confirm(boris, planned.token or "")  # checked again when confirmed
    assert Client.select().where(Client.id.in_(unread_ids())).count() == 3
    assert actions.allowed_actions(boris) == []


def test_delete_is_destructive_and_says_so(staff: dict[str, CommandContext]) -> None:
    world = _world(staff)
    admin = staff["admin"]
    planned = actions.plan(admin, "delete", None, Selection(ids=(world["vera"][0].id,)))
    assert planned.destructive
    assert planned.question == "delete — 1 client. This cannot be undone. Confirm?"
    actions.cancel(admin, planned.token or "")
    with pytest.raises(CommandError):
        actions.confirm(admin, planned.token or "")
    assert Client.select().count() == 9
    empty = actions.plan(admin, "read", None, Selection(text="search:nobody", all=True))
    assert empty.count == 0 and empty.token is None


def test_saved_filters_save_apply_delete(staff: dict[str, CommandContext]) -> None:
    _world(staff)
    admin = staff["admin"]
    assert actions.save(admin, "unread free", "unanswered tab:free") is False
    assert [(s.name, s.text) for s in actions.saved_filters(admin)] == [
        ("unread free", "unanswered tab:free")
    ]
    assert list_view(admin, 'saved:"unread free"').value == 2
    assert actions.save(admin, "unread free", "unanswered") is True
    with pytest.raises(CommandError, match="list:Nope"):
        actions.save(admin, "bad", "list:Nope")
    actions.delete(admin, "unread free")
    assert actions.saved_filters(admin) == []
    with pytest.raises(CommandError, match="no saved filter"):
        actions.delete(admin, "unread free")
