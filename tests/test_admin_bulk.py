"""/bulk, selection actions, /readall, /purge_unsubscribed, /filters, /unread: confirm, cancel,
scope, malformed input."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.admin import ADMIN_COMMANDS, CommandContext
from store.clients.unread import is_unread, unread_ids
from store.models import AuditLog, Client, Job, LabelMembership, SavedFilter
from tests import factories as f
from tests.admin_support import buttons, make_staff, press, run


@pytest.fixture
def staff(db: peewee.Database) -> dict[str, CommandContext]:
    return make_staff()


def test_bulk_shows_the_count_then_confirms_once(staff: dict[str, CommandContext]) -> None:
    ctx = staff["operator"]
    mine = [f.client(f"VIP {i}", lists=("VIP",), responsible=ctx.operator.id) for i in range(3)]
    vera = f.client("Vera VIP", lists=("VIP",), responsible=staff["other"].operator.id)
    ask = run(ctx, '/bulk label-add "Hot, new",Warm list:VIP')
    assert ask.text.startswith("label-add") and "3 clients" in ask.text
    assert LabelMembership.select().count() == 0  # nothing before Confirm
    done = press(ctx, ask, "Confirm")
    assert "Done: label-add on 3 clients" in done.text
    labelled = {m.client_id for m in LabelMembership.select()}
    assert labelled == {c.id for c in mine} and vera.id not in labelled
    assert LabelMembership.select().count() == 6
    assert AuditLog.get(AuditLog.action == "label-add").count == 3
    assert press(ctx, ask, "Confirm").error  # the same confirmation twice does nothing
    assert AuditLog.select().where(AuditLog.action == "label-add").count() == 1


def test_bulk_delete_cancel_and_confirm(staff: dict[str, CommandContext]) -> None:
    ctx = staff["admin"]
    for i in range(4):
        f.client(f"Old {i}", tag="old")
    keep = f.client("Keep", tag="new")
    ask = run(ctx, "/bulk delete search:Old")
    assert "4 clients" in ask.text and "cannot be undone" in ask.text
    assert "nothing was changed" in press(ctx, ask, "Cancel").text
    assert Client.select().count() == 5
    ask = run(ctx, "/bulk delete search:Old")
    press(ctx, ask, "Confirm")
    assert [c.id for c in Client.select()] == [keep.id]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("explode tab:all", "Unknown action 'explode'"),
        ("read", "Give a filter"),
        ("list-add", "needs an argument"),
        ("list-remove Nope tab:all", "Nope"),
        ("assign Zed tab:all", "Zed"),
        ("read list:Nope", "Filter:"),
        ('read search:"open', "unclosed quote"),
    ],
)
def test_bad_bulk_arguments_change_nothing(
    staff: dict[str, CommandContext], args: str, expected: str
) -> None:
    f.client("Someone", unread=True)
    reply = run(staff["admin"], f"/bulk {args}")
    assert expected in reply.text and reply.error and not reply.buttons, reply.text
    assert "Usage: /bulk" in reply.text
    assert AuditLog.select().count() == 0 and is_unread(Client.get().id)


def test_bulk_without_arguments_lists_the_actions(staff: dict[str, CommandContext]) -> None:
    reply = run(staff["admin"], "/bulk")
    assert not reply.error and not reply.buttons, reply.text
    assert reply.text.startswith("/bulk ACTION [ARG] FILTER... Actions:")
    for action in ("read", "delete", "list-add", "assign"):
        assert f"  {action} — " in reply.text


def test_selection_actions_apply_to_the_chosen_clients(staff: dict[str, CommandContext]) -> None:
    ctx = staff["admin"]
    made = [f.client(f"Sel {i}", unread=True) for i in range(12)]
    listing = press(ctx, run(ctx, "/clients"), "Select clients")
    toggles = [b for b in buttons(listing) if b.text.startswith("⬜")]
    for toggle in toggles[:2]:
        listing = ADMIN_COMMANDS.handle_button(ctx, toggle.data or "")
    menu = press(ctx, listing, "Actions on the chosen")
    ask = press(ctx, menu, "read")
    assert "read — 2 clients" in ask.text
    press(ctx, ask, "Confirm")
    assert Client.select().where(Client.id.not_in(unread_ids())).count() == 2
    # The audit names the hand-picked clients exactly.
    picked = [int(b.data.split(":")[3]) for b in toggles[:2] if b.data]
    assert AuditLog.get().filter_text == f"client:{picked[0]},{picked[1]}"
    # Select all matching, then an action with an argument asked for as a message.
    listing = press(ctx, listing, "Select all 12 matching")
    ask = press(ctx, press(ctx, listing, "Actions on the chosen"), "list-add")
    assert "Send the list names" in ask.text
    confirm = run(ctx, "Spring")
    assert "list-add Spring — 12 clients" in confirm.text
    assert "Done: list-add on 12 clients" in press(ctx, confirm, "Confirm").text
    assert len(made) == 12


def test_readall_and_unread_are_scoped(staff: dict[str, CommandContext]) -> None:
    boris, vera, admin = staff["operator"], staff["other"], staff["admin"]
    f.client("B1", unread=True, responsible=boris.operator.id)
    f.client("V1", unread=True, responsible=vera.operator.id)
    f.client("Free", unread=True)
    # F15: an operator counts only clients bound to them; an admin the whole project.
    assert run(boris, "/unread").text == "1 unread dialogs among your clients."
    assert run(admin, "/unread").text.startswith("3 unread dialogs in the project")
    shown = press(boris, run(boris, "/unread"), "Show them")
    assert "B1" in shown.text and "Free" not in shown.text and "V1" not in shown.text
    # F3 within scope: Boris reads his own and the free one, not Vera's.
    assert run(boris, "/readall").text == "Marked 2 dialogs read."
    assert [c.name for c in Client.select().where(Client.id.in_(unread_ids()))] == ["V1"]
    assert run(vera, "/unread").text.startswith("1 unread")
    assert "takes no arguments" in run(boris, "/readall now").text


def test_purge_unsubscribed_needs_confirmation(staff: dict[str, CommandContext]) -> None:
    ctx = staff["admin"]
    f.client("Left", unsubscribed=True)
    f.client("Blocked", blocked=True)
    f.client("Stays")
    ask = run(ctx, "/purge_unsubscribed")
    assert "2 clients" in ask.text and Client.select().count() == 3
    press(ctx, ask, "Confirm")
    assert [c.name for c in Client.select()] == ["Stays"]
    assert AuditLog.get().action == "purge-unsubscribed"
    assert "nothing to do" in run(ctx, "/purge_unsubscribed").text


def test_saved_filters_as_commands_and_buttons(staff: dict[str, CommandContext]) -> None:
    ctx = staff["operator"]
    f.client("Ксения", variables={"Размер": "XS"})
    f.client("Пётр")
    saved = run(ctx, '/filters save xs var:"Размер"=XS')
    assert "Saved 'xs'" in saved.text
    listing = run(ctx, "/clients")
    opened = press(ctx, listing, "🔎 xs")
    assert "Ксения" in opened.text and "Пётр" not in opened.text
    assert "Ксения" in run(ctx, "/clients saved:xs").text
    assert "xs: var" in run(ctx, "/filters list").text
    # Filters are per operator: Vera has none and cannot press Boris's button.
    assert "No saved filters" in run(staff["other"], "/filters").text
    data = buttons(opened)[0].data
    row = SavedFilter.get()
    assert "no longer exists" in ADMIN_COMMANDS.handle_button(staff["other"], f"fs:{row.id}").text
    assert data
    for bad, expected in [
        ("save", "Give a name and the filter"),
        ("save broken list:Nope", "Nope"),
        ("delete nope", "no saved filter named 'nope'"),
        ("frob", "Unknown action"),
    ]:
        reply = run(ctx, f"/filters {bad}")
        assert expected in reply.text and reply.error, reply.text
    assert "Deleted" in run(ctx, "/filters delete xs").text
    assert SavedFilter.select().count() == 0
    assert "search:TEXT" in run(ctx, "/filters help").text


def test_racing_presses_of_one_confirm_run_the_action_once(
    staff: dict[str, CommandContext], db: peewee.Database
) -> None:
    ctx = staff["admin"]
    for i in range(5):
        f.client(f"Race {i}", unread=True)
    ask = run(ctx, "/bulk read tab:all")
    data = buttons(ask)[0].data or ""
    barrier = threading.Barrier(6)

    def tap() -> str:
        barrier.wait()
        try:
            return ADMIN_COMMANDS.handle_button(ctx, data).text
        finally:
            db.close()

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: tap(), range(6)))
    assert sum(a.startswith("Done: read on 5 clients") for a in answers) == 1, answers
    assert AuditLog.select().where(AuditLog.action == "read").count() == 1


TOKENS = ["list:", "tab:", "label:", "var:", "read", "delete", "-list:", "saved:"]
ALPHABET = st.sampled_from([*'ab ":,-=Я1\\', *TOKENS])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(words=st.lists(ALPHABET, max_size=12))
def test_any_text_is_answered_and_changes_nothing_before_confirm(
    staff: dict[str, CommandContext], words: list[str]
) -> None:
    if not Client.select().exists():
        f.client("Only", unread=True, lists=("VIP",))
    text = "".join(words)
    for command in ("/clients", "/bulk", "/export csv", "/broadcast", "/resendfailed"):
        reply = run(staff["operator"], f"{command} {text}")  # never raises
        assert reply.text
    run(staff["operator"], "/cancel")
    only = Client.get()
    assert is_unread(only.id) and not only.blocked and Client.select().count() == 1
    assert AuditLog.select().count() == 0 and Job.select().count() == 0
