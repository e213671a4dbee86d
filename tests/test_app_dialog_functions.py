"""The Mini App's card, dialog, reply and broadcast functions on the admin bot's layer, on
SQLite and PostgreSQL: scope, capabilities, effects in the store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.admin import CommandContext
from commands.admin.context import CommandError, Refused
from commands.app import client_card, dialog, outreach, uploads
from store import outbox
from store.clients.unread import is_unread, mark_unread
from store.clock import utcnow
from store.errors import NotFound
from store.models import AuditLog, Client, Job, LabelMembership, Message, OperatorPreference
from store.permissions import set_override
from tests import factories as f
from tests.admin_support import make_staff

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"0" * 64


@pytest.fixture
def staff(db: peewee.Database) -> dict[str, CommandContext]:
    return make_staff()


def _said(client: Client, texts: list[str], start: dt.datetime | None = None) -> list[int]:
    """Client messages ``texts`` a minute apart; their ids."""
    start = start or utcnow() - dt.timedelta(hours=2)
    ids = []
    for i, text in enumerate(texts):
        at = start + dt.timedelta(minutes=i)
        row = Message.create(
            client=client.id,
            bot=client.bot_id,
            direction="in",
            author_kind="client",
            text=text,
            created_at=at,
            updated_at=at,
        )
        ids.append(row.id)
    return ids


def test_card_scope_read_only_and_menu_by_capability(staff: dict[str, CommandContext]) -> None:
    boris, vera = staff["operator"], staff["other"]
    theirs = f.client("Vera's", responsible=vera.operator.id)
    free = f.client("Free one", unread=True, pinned=True)
    set_override(boris.operator, "view_others", False, boris.settings.permissions)
    with pytest.raises(CommandError, match="among yours"):
        client_card.card(boris, theirs.id)
    shown = client_card.card(boris, free.id, opening=True)
    assert shown["pinned"] and "unpin" in shown["actions"] and "pin" not in shown["actions"]
    assert "delete" not in shown["actions"]  # operators lack 'delete' by default
    assert shown["responsible"] == "free" and not shown["read_only"]
    assert not is_unread(free.id)  # opening marks it read, as /client
    assert "delete" in client_card.card(staff["admin"], free.id)["actions"]
    set_override(boris.operator, "view_others", True, boris.settings.permissions)
    peek = client_card.card(boris, theirs.id, opening=True)
    assert peek["read_only"] and peek["actions"] == []


def test_menu_actions_press_the_admin_bots_buttons(staff: dict[str, CommandContext]) -> None:
    admin, boris = staff["admin"], staff["operator"]
    c = f.client("Menu", lists=("VIP",))
    client_card.run_action(admin, c.id, "pin")
    assert client_card.run_action(admin, c.id, "pin") == "Nothing to change."
    assert Client.get_by_id(c.id).pinned
    client_card.run_action(admin, c.id, "block")
    client_card.run_action(admin, c.id, "mark_unread")
    row = Client.get_by_id(c.id)
    assert row.blocked and is_unread(row.id)
    client_card.run_action(admin, c.id, "assign", str(boris.operator.id))
    assert Client.get_by_id(c.id).responsible_id == boris.operator.id
    picks = client_card.choices(admin, c.id, "lists")
    vip = next(p for p in picks if p["name"] == "VIP")
    assert vip["selected"]
    client_card.run_action(admin, c.id, "toggle_list", str(vip["id"]))
    assert not client_card.choices(admin, c.id, "lists")[0]["selected"]
    client_card.add_named(admin, c.id, "Hot lead", is_list=False)
    assert LabelMembership.select().where(LabelMembership.client == c.id).count() == 1
    assert {a.action for a in AuditLog.select()} >= {"pin", "block", "assign", "list_remove"}
    with pytest.raises(Refused, match="'delete' permission"):
        client_card.run_action(boris, c.id, "delete")
    with pytest.raises(CommandError, match="Unknown action"):
        client_card.run_action(admin, c.id, "explode")
    with pytest.raises(CommandError, match="no longer active"):
        client_card.run_action(admin, c.id, "assign", "999999")
    client_card.run_action(admin, c.id, "delete")
    assert Client.get_or_none(Client.id == c.id) is None


def test_operator_assigns_only_to_themselves(staff: dict[str, CommandContext]) -> None:
    boris, vera = staff["operator"], staff["other"]
    c = f.client("Free")
    assert [p["name"] for p in client_card.choices(boris, c.id, "operators")] == ["Boris", "Nobody"]
    with pytest.raises(CommandError, match="for themselves"):
        client_card.run_action(boris, c.id, "assign", str(vera.operator.id))
    assert Client.get_by_id(c.id).responsible_id is None


def test_dialog_pages_back_in_time_and_follows_chat_view(staff: dict[str, CommandContext]) -> None:
    boris = staff["operator"]
    c = f.client("Talkative")
    ids = _said(c, [f"m{i}" for i in range(dialog.PAGE + 5)])
    first = dialog.page(boris, c.id)
    assert [m["text"] for m in first["messages"]][-1] == f"m{dialog.PAGE + 4}"
    assert first["more"] and len(first["messages"]) == dialog.PAGE
    older = dialog.page(boris, c.id, before=first["messages"][0]["id"])
    assert [m["id"] for m in older["messages"]] == ids[:5] and not older["more"]
    assert first["newest_id"] == ids[-1]
    dialog.toggle_kind(boris, "client")
    hidden = dialog.page(boris, c.id)
    assert hidden["messages"] == [] and hidden["hidden_kinds"] == ["client"]
    assert OperatorPreference.get().chat_view == ["bot", "operator", "comment", "system"]
    with pytest.raises(CommandError, match="Unknown kind"):
        dialog.toggle_kind(boris, "gossip")


def test_changes_bring_new_messages_and_status_moves(staff: dict[str, CommandContext]) -> None:
    boris = staff["operator"]
    c = f.client("Live")
    first = dialog.page(boris, c.id)
    assert first["messages"] == [] and first["newest_id"] == 0
    sent = uploads.send_with_files(boris, c.id, "Hello!", [], "unused")
    assert "queued" in sent
    row = Message.get(Message.client == c.id)
    now = dialog.changes(boris, c.id, 0, first["since"])
    assert [m["text"] for m in now["messages"]] == ["Hello!"]
    assert now["messages"][0]["status"] == "queued" and now["messages"][0]["label"] == "You"
    quiet = dialog.changes(boris, c.id, now["newest_id"], now["since"])
    assert quiet["messages"] == [] and quiet["updated"] == []
    outbox.claim(row.id)
    outbox.mark_sent(row.id, "p-1")
    moved = dialog.changes(boris, c.id, now["newest_id"], quiet["since"])
    assert [(m["id"], m["status"]) for m in moved["updated"]] == [(row.id, "sent")]
    mark_unread([c.id])
    _said(c, ["are you there?"], start=utcnow())
    seen = dialog.changes(boris, c.id, now["newest_id"], moved["since"], seen=True)
    assert [m["label"] for m in seen["messages"]] == ["Client"]
    assert not is_unread(c.id)  # seen while the dialog was open
    with pytest.raises(CommandError, match="not a time"):
        dialog.changes(boris, c.id, 0, "yesterday")


def test_reply_with_files_reaches_the_outbox(
    staff: dict[str, CommandContext], tmp_path: Path
) -> None:
    boris = staff["operator"]
    c = f.client("Files")
    files = [uploads.Upload("photo", "cat.jpg", JPEG), uploads.Upload("document", "bill.pdf", PDF)]
    uploads.send_with_files(boris, c.id, "See attached", files, str(tmp_path))
    row = Message.get(Message.client == c.id)
    assert (row.author_kind, row.status, row.text) == ("operator", "queued", "See attached")
    kinds = [(a["kind"], a["mime_type"], a["file_name"]) for a in row.attachments]
    assert kinds == [
        ("photo", "image/jpeg", "cat.jpg"),
        ("document", "application/pdf", "bill.pdf"),
    ]
    assert [Path(a["path"]).read_bytes() for a in row.attachments] == [JPEG, PDF]


def test_bad_files_are_refused_in_one_line_and_nothing_is_kept(
    staff: dict[str, CommandContext], tmp_path: Path
) -> None:
    boris = staff["operator"]
    c = f.client("Picky", on=f.bot("shop_wa", "whatsapp"))
    big = uploads.Upload("photo", "huge.png", PNG + b"\x00" * (5 * uploads.MB))
    cases = [
        (big, 413, "at most 5.0 MB"),
        (uploads.Upload("photo", "doc.jpg", PDF), 415, "not a JPEG or PNG"),
        (uploads.Upload("document", "run.exe", b"MZ\x90"), 415, "cannot be sent"),
        (uploads.Upload("document", "fake.pdf", JPEG), 415, "not the .pdf file"),
        (uploads.Upload("document", "empty.txt", b""), 400, "is empty"),
        (uploads.Upload("video", "a.mp4", b"x"), 400, "photo or a document"),
    ]
    for upload, status, words in cases:
        with pytest.raises(uploads.UploadRefused, match=words) as caught:
            uploads.send_with_files(boris, c.id, "", [upload], str(tmp_path / "files"))
        assert caught.value.status == status and "\n" not in str(caught.value)
    Client.update(blocked=True).where(Client.id == c.id).execute()
    good = uploads.Upload("photo", "ok.png", PNG)
    with pytest.raises(CommandError, match="unblock it first"):
        uploads.send_with_files(boris, c.id, "hi", [good], str(tmp_path / "files"))
    assert Message.select().count() == 0
    # The refused message's file was kept, then removed again with its folder.
    assert list((tmp_path / "files").iterdir()) == []


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=120), head=st.binary(max_size=16))
def test_any_file_name_and_content_is_checked_or_refused_in_one_line(
    name: str, head: bytes
) -> None:
    for kind in ("photo", "document"):
        try:
            attachment = uploads.check(uploads.Upload(kind, name, head), "telegram")
        except uploads.UploadRefused as exc:
            assert "\n" not in str(exc) and exc.status in (400, 413, 415)
        else:
            assert "/" not in attachment["file_name"] and attachment["file_name"]
            assert len(attachment["file_name"]) <= 100


def test_broadcast_plan_token_once_progress_and_cancel(staff: dict[str, CommandContext]) -> None:
    admin, boris = staff["admin"], staff["operator"]
    for i in range(3):
        f.client(f"VIP {i}", lists=("VIP",))
    f.client("VIP blocked", lists=("VIP",), blocked=True)
    plan = outreach.plan_broadcast(admin, "list:VIP", "Скидка 10%")
    assert (plan["matched"], plan["recipients"], plan["blocked"]) == (4, 3, 1)
    assert "Broadcast plan: 3 recipients of 4 matching" in plan["text"]
    started = outreach.start_broadcast(admin, plan["token"])["job"]
    assert started["total"] == 4 and started["skipped"] == 1 and started["active"]
    with pytest.raises(CommandError, match="already sent"):
        outreach.start_broadcast(admin, plan["token"])  # a double tap sends once
    assert Job.select().count() == 1
    with pytest.raises(NotFound, match="among yours"):
        outreach.job_json(boris, started["id"])  # operators see their own jobs
    with pytest.raises(NotFound, match="among yours"):
        outreach.cancel(boris, started["id"])
    done = outreach.cancel(admin, started["id"])["job"]
    assert done["state"] == "cancelled" and done["cancelled"] == 3 and not done["active"]
    assert [j["id"] for j in outreach.recent_jobs(admin)] == [started["id"]]
    assert outreach.recent_jobs(boris) == []
    with pytest.raises(CommandError, match="Filter"):
        outreach.plan_broadcast(admin, "list:", "x")
    with pytest.raises(CommandError, match="empty"):
        outreach.plan_broadcast(admin, "list:VIP", "  ")


def test_resend_failed_plan_and_start(staff: dict[str, CommandContext]) -> None:
    admin = staff["admin"]
    c = f.client("Failed once")
    row = outbox.enqueue(c, "promo", author_kind="bot")
    outbox.claim(row.id)
    outbox.mark_failed(row.id, "500", "boom")
    plan = outreach.plan_resend(admin, "")
    assert plan["recipients"] == 1 and "Resend of failed messages plan" in plan["text"]
    job = outreach.start_resend(admin, plan["token"])["job"]
    assert job["kind"] == "resend_failed" and job["total"] == 1
    resent = Message.select().where(Message.job == job["id"]).get()
    assert resent.text == "promo" and resent.status == "queued"
    with pytest.raises(CommandError, match="interval"):
        outreach.plan_resend(admin, "interval:-3")


def test_join_requests_are_approved_from_the_card(staff: dict[str, CommandContext]) -> None:
    boris = staff["operator"]
    c = f.client("Joiner", messenger_id="777")
    request = Message.create(
        client=c.id,
        bot=c.bot_id,
        direction="in",
        author_kind="system",
        text="asks to join «Club»",
        dedup_key="tg:join:1",
        extra={"join_request": {"chat_id": -100, "chat_title": "Club", "user_id": 777}},
    )
    shown = client_card.card(boris, c.id)
    assert shown["join_requests"] == [{"id": request.id, "chat": "Club"}]
    other = f.client("Someone else")
    with pytest.raises(CommandError, match="not this client's"):
        client_card.run_action(boris, other.id, "approve_join", str(request.id))
    assert client_card.run_action(boris, c.id, "approve_join", str(request.id)) == "Approved"
    (row,) = [m for m in Message.select() if (m.extra or {}).get("action")]
    assert row.extra["action"] == "approve_chat_join_request"
    assert (row.status, row.extra["chat_id"], row.extra["user_id"]) == ("queued", -100, 777)
    assert client_card.card(boris, c.id)["join_requests"] == []
    with pytest.raises(CommandError, match="already decided"):
        client_card.run_action(boris, c.id, "decline_join", str(request.id))
