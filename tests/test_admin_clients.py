"""/clients, /client, /reply, /comment through the command layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import peewee
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.admin import CommandContext
from commands.admin.reply import CALLBACK_LIMIT, MESSAGE_LIMIT, Reply
from config import Settings
from store import jobs, outbox
from store.clients.unread import is_unread, mark_unread
from store.clock import utcnow
from store.models import (
    AuditLog,
    Client,
    LabelMembership,
    ListMembership,
    MailingList,
    Message,
    ProjectSetting,
)
from store.permissions import set_override
from tests import factories as f
from tests.admin_support import buttons, make_staff, press, run
from tests.conftest import run_cli
from tests.sqllog import captured_statements


@pytest.fixture
def staff(db: peewee.Database) -> dict[str, CommandContext]:
    return make_staff()


def _world(staff: dict[str, CommandContext]) -> dict[str, list[Client]]:
    """Clients of Boris (2, one unread), of Vera (3), and free ones (4, two unread)."""
    boris, vera = staff["operator"].operator.id, staff["other"].operator.id
    t0 = utcnow() - dt.timedelta(hours=1)
    groups: dict[str, list[Client]] = {"boris": [], "vera": [], "free": []}
    for i in range(2):
        groups["boris"].append(
            f.client(f"Boris client {i}", responsible=boris, unread=i == 0, last_action_at=t0)
        )
    for i in range(3):
        groups["vera"].append(f.client(f"Vera client {i}", responsible=vera, last_action_at=t0))
    for i in range(4):
        groups["free"].append(f.client(f"Free {i}", unread=i < 2, last_action_at=t0))
    return groups


def _tab_counts(reply_text_buttons: list[str]) -> dict[str, int]:
    counts = {}
    for text in reply_text_buttons:
        name, _, number = text.removeprefix("• ").rpartition(" ")
        if name in ("All", "Unanswered", "Mine", "Others", "Free"):
            counts[name] = int(number)
    return counts


def test_tab_counts_are_scoped_to_the_viewer(staff: dict[str, CommandContext]) -> None:
    _world(staff)
    admin = run(staff["admin"], "/clients")
    assert _tab_counts([b.text for b in buttons(admin)]) == {
        "All": 9,
        "Unanswered": 3,
        "Mine": 0,
        "Others": 5,
        "Free": 4,
    }
    boris = run(staff["operator"], "/clients")
    # By default (view_others) Boris also sees Vera's clients, under Others, read-only.
    assert _tab_counts([b.text for b in buttons(boris)]) == {
        "All": 9,
        "Unanswered": 3,
        "Mine": 2,
        "Others": 3,
        "Free": 4,
    }
    mine = press(staff["operator"], boris, "Mine")
    assert mine.edit
    assert "Boris client 0" in mine.text and "Free 0" not in mine.text
    assert "Mine: 2" in mine.text
    others = press(staff["operator"], boris, "Others")
    assert "Vera client" in others.text and "Boris client" not in others.text
    # Without view_others he sees only his own and the free clients.
    set_override(staff["operator"].operator, "view_others", False, Settings().permissions)
    boris = run(staff["operator"], "/clients")
    assert _tab_counts([b.text for b in buttons(boris)]) == {
        "All": 6,
        "Unanswered": 3,
        "Mine": 2,
        "Others": 0,
        "Free": 4,
    }
    assert "Vera client" not in boris.text
    others = press(staff["operator"], boris, "Others")
    assert "No clients here" in others.text


def test_pages_walk_every_client_once(staff: dict[str, CommandContext]) -> None:
    made = {f.client(f"Client {i:02}").id for i in range(23)}
    seen: set[int] = set()
    reply = run(staff["admin"], "/clients")
    for page in (1, 2, 3):
        assert f"page {page}/3" in reply.text
        ids = {
            int(b.data.split(":")[1]) for b in buttons(reply) if b.data and b.data.startswith("co:")
        }
        assert not ids & seen
        seen |= ids
        if page < 3:
            reply = press(staff["admin"], reply, "Next")
    assert seen == made
    back = press(staff["admin"], reply, "◀ Previous")
    assert "page 2/3" in back.text


def _card_ids(reply: Reply) -> list[int]:
    return [int(b.data.split(":")[1]) for b in buttons(reply) if b.data and b.data[:3] == "co:"]


def test_next_is_stable_while_messages_arrive_and_counts_are_capped(
    staff: dict[str, CommandContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page 1, then new messages move two of its clients and one of page 3 to the top: Next
    shows exactly the clients after page 1's last as it was. Over the cap (5 here), tabs and
    the head say "5+" and the head gives no page total."""
    from store.clients import query

    monkeypatch.setattr(query, "COUNT_CAP", 5)
    t0 = utcnow() - dt.timedelta(hours=1)
    made = [
        f.client(f"c{n:02}", f"c{n:02}", last_action_at=t0 - dt.timedelta(minutes=n)).id
        for n in range(25)
    ]
    first = run(staff["admin"], "/clients")
    assert _card_ids(first) == made[:10]
    assert "All: 5+ (page 1)" in first.text
    assert "All 5+" in [b.text.removeprefix("• ") for b in buttons(first)]
    for n, messenger_id in enumerate(("c02", "c05", "c22")):
        f.inbound(messenger_id, "news", n)
    second = press(staff["admin"], first, "Next")
    assert _card_ids(second) == made[10:20] and "(page 2)" in second.text
    third = press(staff["admin"], second, "Next")
    assert _card_ids(third) == [i for i in made[20:] if i != made[22]]
    assert "Next ▶" not in [b.text for b in buttons(third)]
    back = press(staff["admin"], third, "◀ Previous")
    assert _card_ids(back) == made[10:20]
    top = press(staff["admin"], back, "◀ Previous")  # page 1 as it is now
    assert _card_ids(top)[:3] == [made[22], made[5], made[2]]
    selecting = press(staff["admin"], top, "Select clients")
    assert "Select all 5+ matching" in [b.text for b in buttons(selecting)]


def test_filter_and_preview_shape_the_cards(staff: dict[str, CommandContext]) -> None:
    f.client("Ксения", tag="vip", variables={"Размер": "XS"}, lists=("VIP",))
    f.client("Пётр", tag="regular")
    reply = run(staff["admin"], "/clients ксен")
    assert "Ксения" in reply.text and "Пётр" not in reply.text
    assert "Tag:" not in reply.text
    run(staff["admin"], "/preview")
    from commands.admin import ADMIN_COMMANDS

    ADMIN_COMMANDS.handle_button(staff["admin"], "pv:f:tag")
    ADMIN_COMMANDS.handle_button(staff["admin"], "pv:f:lists")
    run(staff["admin"], "/preview var Размер")
    reply = run(staff["admin"], '/clients var:"Размер"=XS')
    assert "Tag: vip" in reply.text and "Lists: VIP" in reply.text and "Размер: XS" in reply.text
    # Boris did not choose the tag: his cards do not show it.
    assert "Tag:" not in run(staff["operator"], "/clients ксен").text
    # The preferences are read once for the list, not once per card.
    f.client("Ксения 2", tag="vip")
    with captured_statements() as seen:
        reply = run(staff["admin"], "/clients ксен")
    assert reply.text.count("Tag: vip") == 2
    assert sum('FROM "operator_preference"' in s for s in seen) == 1, seen


def test_a_bad_filter_is_one_helpful_line_and_stores_nothing(
    staff: dict[str, CommandContext],
) -> None:
    f.client("Ann")
    before = ProjectSetting.select().count()
    reply = run(staff["admin"], "/clients list:Nope")
    assert reply.text.splitlines()[0].startswith("Filter: list:Nope")
    assert "Usage: /clients" in reply.text and not reply.buttons
    assert ProjectSetting.select().count() == before
    assert "unknown filter" in run(staff["admin"], "/clients lsit:VIP").text


def test_selection_mode_toggles_and_selects_all_matching(staff: dict[str, CommandContext]) -> None:
    from commands.admin import tokens
    from commands.admin.clients import selection_size

    for i in range(15):
        f.client(f"Sel {i}")
    ctx = staff["admin"]
    reply = press(ctx, run(ctx, "/clients"), "Select clients")
    assert "Selecting: 0 chosen" in reply.text
    toggles = [b for b in buttons(reply) if b.text.startswith("⬜")]
    assert len(toggles) == 10
    from commands.admin import ADMIN_COMMANDS

    reply = ADMIN_COMMANDS.handle_button(ctx, toggles[0].data or "")
    reply = ADMIN_COMMANDS.handle_button(ctx, toggles[1].data or "")
    assert "Selecting: 2 chosen" in reply.text
    reply = ADMIN_COMMANDS.handle_button(ctx, toggles[1].data or "")  # untoggle
    assert "Selecting: 1 chosen" in reply.text
    token = (toggles[0].data or "").split(":")[1]
    state = tokens.get(token, ctx.operator.id, "list")
    assert state is not None and selection_size(ctx, state) == 1
    reply = press(ctx, reply, "Select all 15 matching")
    assert "Selecting: 15 chosen" in reply.text
    state = tokens.get(token, ctx.operator.id, "list")
    assert state is not None and selection_size(ctx, state) == 15
    # Another operator cannot drive this list.
    stolen = ADMIN_COMMANDS.handle_button(staff["operator"], toggles[0].data or "")
    assert "expired" in stolen.text
    assert all(len((b.data or "").encode()) <= CALLBACK_LIMIT for b in buttons(reply))


def test_client_card_dialog_and_unread(staff: dict[str, CommandContext]) -> None:
    ctx = staff["operator"]
    c = f.client("Ксения", unread=True, responsible=ctx.operator.id, username="ksu")
    for i in range(12):
        Message.create(
            client=c, bot=c.bot_id, direction="in", author_kind="client", text=f"hello {i}"
        )
    Message.create(client=c, bot=c.bot_id, direction="out", author_kind="comment", text="note")
    reply = run(ctx, f"/client {c.id}")
    assert "Ксения" in reply.text and "Username: @ksu" in reply.text
    assert "Responsible: your client" in reply.text
    assert "Comment: note" in reply.text and "hello 11" in reply.text
    assert "hello 1\n" not in reply.text  # page 1 holds the latest 10
    assert not is_unread(c.id)  # opening the dialog read it
    older = press(ctx, reply, "◀ Older")
    assert older.edit and "hello 1" in older.text and "page 2/2" in older.text
    # /chatview hides comments for this operator.
    from commands.admin import ADMIN_COMMANDS

    ADMIN_COMMANDS.handle_button(ctx, "cv:comment")
    assert "note" not in run(ctx, f"/client {c.id}").text.split("Dialog")[1]
    assert "note" in run(staff["admin"], f"/client {c.id}").text.split("Dialog")[1]
    # Vera may read Boris's client (view_others) without marking it read; revoked, not even
    # that.
    mark_unread([c.id])
    assert "you can read, not act" in run(staff["other"], f"/client {c.id}").text
    assert is_unread(c.id)
    vera = staff["other"]
    set_override(vera.operator, "view_others", False, vera.settings.permissions)
    assert f"No client {c.id}" in run(vera, f"/client {c.id}").text
    assert "Give one client id" in run(ctx, "/client").text
    assert "is not a client id" in run(ctx, "/client abc").text


def test_cards_and_dialogs_show_the_project_time_with_its_zone(
    staff: dict[str, CommandContext],
) -> None:
    moscow = CommandContext(
        operator=staff["admin"].operator,
        settings=Settings.model_validate({"timezone": "Europe/Moscow"}),
    )
    at = f.local("19.04.2021 23:59")  # Moscow time, stored as naive UTC
    c = f.client("Ксения", created_at=at, last_action_at=at)
    Message.create(
        client=c, bot=c.bot_id, direction="in", author_kind="client", text="hi", created_at=at
    )
    card = run(moscow, f"/client {c.id}").text
    assert "First contact: 2021-04-19 23:59 MSK" in card, card
    assert "Last action: 2021-04-19 23:59 MSK" in card
    assert "[2021-04-19 23:59 MSK]" in card  # the dialog's messages
    assert "Last action: 2021-04-19 23:59 MSK" in run(moscow, "/clients").text
    # The same instant for a project in UTC.
    assert "First contact: 2021-04-19 20:59 UTC" in run(staff["admin"], f"/client {c.id}").text


def test_card_menu_actions(staff: dict[str, CommandContext]) -> None:
    ctx = staff["admin"]
    c = f.client("Menu", lists=("VIP",))
    card = run(ctx, f"/client {c.id}")
    press(ctx, card, "🔵 Mark unread")
    assert is_unread(c.id)
    pinned = press(ctx, card, "📌 Pin")
    assert Client.get_by_id(c.id).pinned and pinned.notice == "Pinned"
    press(ctx, pinned, "Unpin")
    assert not Client.get_by_id(c.id).pinned
    blocked = press(ctx, card, "⛔ Block")
    assert Client.get_by_id(c.id).blocked and "blocked" in blocked.text
    press(ctx, blocked, "Unblock")
    assert not Client.get_by_id(c.id).blocked

    who = press(ctx, card, "👤 Assign")
    press(ctx, who, "Boris")
    assert Client.get_by_id(c.id).responsible_id == staff["operator"].operator.id
    press(ctx, who, "Nobody")
    assert Client.get_by_id(c.id).responsible_id is None

    lists = press(ctx, card, "Lists")
    vip = MailingList.get(MailingList.name == "VIP")
    press(ctx, lists, "VIP")  # toggles membership off
    assert not ListMembership.select().where(ListMembership.client == c.id).exists()
    ask = press(ctx, press(ctx, card, "Labels"), "➕ New label")
    assert "Send the name of the label" in ask.text
    run(ctx, "Hot lead")
    assert LabelMembership.select().where(LabelMembership.client == c.id).count() == 1
    assert vip.id
    assert AuditLog.select().where(AuditLog.action == "pin").count() == 1


def test_delete_needs_confirmation(staff: dict[str, CommandContext]) -> None:
    ctx = staff["admin"]
    c = f.client("Doomed")
    card = run(ctx, f"/client {c.id}")
    ask = press(ctx, card, "🗑 Delete")
    assert "cannot be undone" in ask.text and Client.get_or_none(Client.id == c.id) is not None
    cancelled = press(ctx, ask, "Cancel")
    assert "nothing was deleted" in cancelled.text
    assert Client.get_or_none(Client.id == c.id) is not None
    assert "deleted" in press(ctx, ask, "🗑 Yes, delete").text
    assert Client.get_or_none(Client.id == c.id) is None
    # The same button again finds no client.
    assert f"No client {c.id}" in press(ctx, ask, "🗑 Yes, delete").text


def test_reply_queues_an_operator_message(staff: dict[str, CommandContext]) -> None:
    ctx = staff["operator"]
    c = f.client("Reply me", unread=True)
    reply = run(ctx, f"/reply {c.id} Здравствуйте, чем помочь?")
    assert "Queued" in reply.text
    row = Message.get(Message.client == c.id)
    assert (row.direction, row.author_kind, row.status) == ("out", "operator", "queued")
    assert row.operator_id == ctx.operator.id and row.text == "Здравствуйте, чем помочь?"
    assert not is_unread(c.id)
    Client.update(blocked=True).where(Client.id == c.id).execute()
    assert "unblock it first" in run(ctx, f"/reply {c.id} again").text
    assert Message.select().count() == 1
    assert "The text is empty" in run(ctx, f"/reply {c.id}   ").text
    assert "Give the client id" in run(ctx, "/reply").text


def test_reply_and_comment_buttons_wait_for_the_text(staff: dict[str, CommandContext]) -> None:
    ctx = staff["operator"]
    c = f.client("Prompted")
    card = run(ctx, f"/client {c.id}")
    assert "Send the reply" in press(ctx, card, "✍️ Reply").text
    assert "Queued" in run(ctx, "Добрый день").text
    assert "Send a command" in run(ctx, "stray text").text  # the prompt was answered
    press(ctx, card, "💬 Comment")
    assert run(ctx, "/cancel").text == "Cancelled."
    assert "Send a command" in run(ctx, "not a comment").text
    press(ctx, card, "💬 Comment")
    run(ctx, "/help")  # another command abandons the prompt
    assert "Send a command" in run(ctx, "not a comment either").text
    assert [m.author_kind for m in Message.select()] == ["operator"]


def test_comments_are_stored_unsent_and_ignored_by_resend_failed(
    staff: dict[str, CommandContext],
) -> None:
    ctx = staff["admin"]
    c = f.client("Commented")
    failed = outbox.enqueue(c, "promo")
    outbox.claim(failed.id)
    outbox.mark_failed(failed.id, "500", "boom")
    assert "Comment added" in run(ctx, f"/comment {c.id} called them, no answer").text
    assert "Comment (Anna): called them" in run(staff["operator"], f"/client {c.id}").text
    assert "Comment (you): called them" in run(ctx, f"/client {c.id}").text
    comment = Message.get(Message.author_kind == "comment")
    assert comment.direction == "out" and comment.status is None
    assert outbox.claim(comment.id) is None  # the delivery engine never takes it
    job = jobs.create_resend_failed(None, steps={})
    # The comment came after the failure, yet the failed promo is still the last message sent.
    assert [m.text for m in Message.select().where(Message.job == job.id)] == ["promo"]


def test_switchboard_admin_lists_clients_and_presses_their_buttons(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "operators: [{telegram_id: 111, role: admin, name: Anna}]\n"
    )
    assert run_cli("migrate", cwd=tmp_path).returncode == 0
    listed = run_cli("admin", "--as", "111", "/clients unanswered", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "Clients matching 'unanswered' — All: 0" in listed.stdout
    data = re.search(r"\[Free 0\] --press (cl:\w+:t:free)", listed.stdout)
    assert data is not None, listed.stdout
    pressed = run_cli("admin", "--as", "111", "--press", data.group(1), cwd=tmp_path)
    assert "— Free: 0" in pressed.stdout
    bad = run_cli("admin", "--as", "111", "/clients list:Nope", cwd=tmp_path)
    assert "Filter: list:Nope" in bad.stdout and bad.returncode == 1
    exported = run_cli("admin", "--as", "111", "/export csv", cwd=tmp_path)
    saved = re.search(r"saved (clients-[\d-]+\.csv)", exported.stdout)
    assert exported.returncode == 0 and saved is not None, exported.stdout
    assert (tmp_path / saved.group(1)).read_bytes().startswith(b"\xef\xbb\xbfclient_id,name")
    nothing = run_cli("admin", "--as", "111", "/cancel", cwd=tmp_path)
    assert nothing.stdout.startswith("Nothing to cancel.") and nothing.returncode == 0


def test_help_lists_every_command(staff: dict[str, CommandContext]) -> None:
    from commands.admin import ADMIN_COMMANDS

    text = run(staff["admin"], "/help").text
    for name, command in ADMIN_COMMANDS.commands.items():
        assert f"{command.usage} — " in text, name
    for name in ("clients", "client", "reply", "comment", "bulk", "readall", "resendfailed"):
        assert f"/{name}" in text


@settings(max_examples=40, deadline=None)
@given(
    client_id=st.integers(min_value=1, max_value=2**63 - 1),
    pinned=st.booleans(),
    blocked=st.booleans(),
    page=st.integers(min_value=1, max_value=10**6),
)
def test_menu_callback_data_fits_64_bytes_for_any_id(
    client_id: int, pinned: bool, blocked: bool, page: int
) -> None:
    from commands.admin.client import menu

    rows = menu(Client(id=client_id, pinned=pinned, blocked=blocked), page, page + 1)
    # Button() refuses data over the limit: building the menu is the check; and every
    # button's data names the client.
    assert all(str(client_id) in (b.data or "") for row in rows for b in row)


def test_a_long_dialog_is_split_within_the_message_limit(staff: dict[str, CommandContext]) -> None:
    ctx = staff["admin"]
    c = f.client("Talkative")
    for i in range(10):
        Message.create(
            client=c, bot=c.bot_id, direction="in", author_kind="client", text=f"{i} " + "я" * 3000
        )
    reply = run(ctx, f"/client {c.id}")
    assert len(reply.text) > MESSAGE_LIMIT
    chunks = reply.chunks()
    assert len(chunks) > 1 and all(len(piece) <= MESSAGE_LIMIT for piece in chunks)
    assert "".join(chunks).count("я") == reply.text.count("я")


def test_card_labels_the_last_message_as_f14_says(staff: dict[str, CommandContext]) -> None:
    boris, admin = staff["operator"], staff["admin"]
    c = f.client("Labels")
    run(boris, f"/reply {c.id} from Boris")
    shown = run(boris, "/clients").text
    assert "Last message: You: from Boris" in shown
    assert "Last message: boris@shop.test: from Boris" in run(admin, "/clients").text
    photo = [{"kind": "photo"}]
    Message.create(client=c, bot=c.bot_id, direction="in", author_kind="client", attachments=photo)
    assert "Last message: Attachment: [photo]" in run(boris, "/clients").text


@pytest.mark.parametrize("text", ["", "unanswered", "client", "search:free", "tab:free"])
def test_one_pass_and_per_tab_counts_agree(
    staff: dict[str, CommandContext], text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from commands.admin import clients as admin_clients
    from store.clients import query

    _world(staff)
    monkeypatch.setattr(query, "COUNT_CAP", 3)  # some tabs exact, some "3+"
    for ctx in staff.values():
        flt = admin_clients.parse(ctx, text)
        one_pass = admin_clients.tab_counts(flt, ctx)
        monkeypatch.setattr(admin_clients, "ONE_PASS_CAPS", 0)  # a count per tab
        per_tab = admin_clients.tab_counts(flt, ctx)
        monkeypatch.setattr(admin_clients, "ONE_PASS_CAPS", 10)  # every match in one pass
        assert one_pass == per_tab, (ctx.operator.name, text)
        assert one_pass == admin_clients.tab_counts(flt, ctx)
