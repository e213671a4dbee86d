"""Multi-step admin flows through the real aiogram dispatcher and the Bot API emulator: a
command goes in as a Telegram update, the buttons of the answer are pressed as callback
queries, and what Telegram shows (new messages, edits, keyboards, documents) is checked
together with the store. The command layer's own tests (test_admin_clients, test_admin_bulk,
test_admin_jobs) cover the rules on both databases; these prove the wiring end to end."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import peewee
import pytest

from commands.admin.reply import CALLBACK_LIMIT, Button, Reply
from emulators.telegram.model import SentMessage
from store import jobs, outbox
from store.clients.unread import is_unread, unread_ids
from store.models import (
    AuditLog,
    Client,
    Job,
    Label,
    LabelMembership,
    ListMembership,
    MailingList,
    Message,
    Operator,
)
from tests import factories
from tests.admin_support import button
from tests.test_admin_telegram import ANNA, BORIS, SQLITE_ONLY, TOKEN, Env, running

VERA = 333


@pytest.fixture
async def env(db: peewee.Database, db_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    async with running(db_url, tmp_path) as environment:
        yield environment


def shown(message: SentMessage) -> Reply:
    """What Telegram shows of a bot message, as a ``Reply`` (so the layer's helpers apply)."""
    rows = (message.reply_markup or {}).get("inline_keyboard") or []
    return Reply(
        message.text or "",
        [[Button(b["text"], data=b.get("callback_data")) for b in row] for row in rows],
    )


def texts(message: SentMessage) -> list[str]:
    return [b["text"] for b in message.buttons()]


async def tap(env: Env, user: int, message: SentMessage, starts: str) -> None:
    """``user`` presses the button of ``message`` whose text starts with ``starts``."""
    data = button(shown(message), starts).data
    assert data is not None and len(data.encode()) <= CALLBACK_LIMIT
    await env.emu.press(TOKEN, user, message, data)


def last(env: Env, user: int) -> SentMessage:
    return env.sent_to(user)[-1]


def toasts(env: Env) -> list[str]:
    return [a.get("text") or "" for a in env.emu.bots[TOKEN].answers]


def operator_id(telegram_id: int) -> int:
    return int(Operator.get(Operator.telegram_id == telegram_id).id)


@SQLITE_ONLY
async def test_clients_tabs_pages_selection_then_confirm_or_cancel(env: Env) -> None:
    boris = operator_id(BORIS)
    free = [factories.client(f"Free {i:02}", unread=True) for i in range(13)]
    for i in range(2):
        factories.client(f"Boris {i}", responsible=boris)
    await env.say(ANNA, "/clients")
    [listing] = env.sent_to(ANNA)
    assert {"• All 15", "Unanswered 13", "Mine 0", "Others 2", "Free 13"} <= set(texts(listing))

    await tap(env, ANNA, listing, "Free")
    assert len(env.sent_to(ANNA)) == 1 and listing.edits  # edited in place, not a new message
    assert "— Free: 13 (page 1/2)" in (listing.text or "") and "• Free 13" in texts(listing)
    assert "Boris 0" not in (listing.text or "")
    await tap(env, ANNA, listing, "Next")
    assert "(page 2/2)" in (listing.text or "")
    page_two = [b for b in listing.buttons() if b["callback_data"].startswith("co:")]
    assert len(page_two) == 3

    await tap(env, ANNA, listing, "Select clients")
    assert "Selecting: 0 chosen" in (listing.text or "")
    toggles = [b for b in listing.buttons() if b["text"].startswith("⬜")]
    assert len(toggles) == 3
    picked = [int(b["callback_data"].rsplit(":", 1)[1]) for b in toggles[:2]]
    for toggle in toggles[:2]:
        await env.emu.press(TOKEN, ANNA, listing, toggle["callback_data"])
    assert "Selecting: 2 chosen" in (listing.text or "")
    assert sum(t.startswith("☑️") for t in texts(listing)) == 2

    await tap(env, ANNA, listing, "Actions on the chosen")
    menu = last(env, ANNA)
    assert menu is not listing and "What to do with the chosen" in (menu.text or "")
    await tap(env, ANNA, menu, "read")
    ask = last(env, ANNA)
    assert (ask.text or "").startswith("read — 2 clients")
    assert texts(ask) == ["✅ Confirm", "Cancel"]
    unread = Client.select().where(Client.id.in_(unread_ids()))
    assert unread.count() == 13  # nothing before Confirm
    await tap(env, ANNA, ask, "Confirm")
    assert ask.edits and (ask.text or "").startswith("Done: read on 2 clients")
    assert ask.buttons() == []  # the confirmation cannot be pressed again
    read = {c.id for c in free} - {c.id for c in unread}
    assert read == set(picked) and unread.count() == 11
    audit = AuditLog.get(AuditLog.action == "read")
    assert (audit.count, audit.filter_text) == (2, f"tab:free client:{picked[0]},{picked[1]}")

    # The same selection, another action, cancelled: the store does not change.
    await tap(env, ANNA, listing, "Actions on the chosen")
    await tap(env, ANNA, last(env, ANNA), "block")
    ask = last(env, ANNA)
    assert (ask.text or "").startswith("block — 2 clients")
    await tap(env, ANNA, ask, "Cancel")
    assert "nothing was changed" in (ask.text or "") and ask.buttons() == []
    assert Client.select().where(Client.blocked == True).count() == 0  # noqa: E712
    assert AuditLog.select().count() == 1


@SQLITE_ONLY
async def test_client_menu_buttons_change_the_store_and_edit_the_card(env: Env) -> None:
    c = factories.client("Ксения", unread=True)
    await env.say(ANNA, f"/client {c.id}")
    [card] = env.sent_to(ANNA)
    assert "Ксения" in (card.text or "") and not is_unread(c.id)
    await tap(env, ANNA, card, "📌 Pin")
    assert Client.get_by_id(c.id).pinned and card.edits
    assert "Unpin" in texts(card) and "📌 Pin" not in texts(card)
    assert "Pinned" in toasts(env)
    await tap(env, ANNA, card, "Unpin")
    assert not Client.get_by_id(c.id).pinned and "📌 Pin" in texts(card)
    assert [a.action for a in AuditLog.select().order_by(AuditLog.id)] == ["pin", "unpin"]
    assert len(env.sent_to(ANNA)) == 1  # every change edited the one card

    await tap(env, ANNA, card, "🗑 Delete")
    ask = last(env, ANNA)
    assert "cannot be undone" in (ask.text or "")
    await tap(env, ANNA, ask, "Cancel")
    assert "nothing was deleted" in (ask.text or "") and ask.buttons() == []
    assert Client.get_or_none(Client.id == c.id) is not None
    await tap(env, ANNA, card, "🗑 Delete")
    await tap(env, ANNA, last(env, ANNA), "🗑 Yes, delete")
    assert f"Client {c.id} deleted" in (last(env, ANNA).text or "")
    assert Client.get_or_none(Client.id == c.id) is None


@SQLITE_ONLY
async def test_bulk_confirm_tapped_twice_acts_once(env: Env) -> None:
    vips = [factories.client(f"VIP {i}", lists=("VIP",)) for i in range(3)]
    factories.client("Not VIP")
    await env.say(BORIS, "/bulk label-add Hot list:VIP")
    [ask] = env.sent_to(BORIS)
    assert (ask.text or "").startswith("label-add Hot — 3 clients")
    assert LabelMembership.select().count() == 0  # nothing before Confirm
    confirm = button(shown(ask), "Confirm").data or ""
    # A double tap: both presses leave before the first answer edits the keyboard away.
    await asyncio.gather(
        env.emu.press(TOKEN, BORIS, ask, confirm), env.emu.press(TOKEN, BORIS, ask, confirm)
    )
    assert len(env.emu.bots[TOKEN].answers) == 2  # both callback queries were answered
    assert (ask.text or "").startswith("Done: label-add on 3 clients")
    hot = Label.get(Label.name == "Hot")
    labelled = [m.client_id for m in LabelMembership.select().where(LabelMembership.label == hot)]
    assert sorted(labelled) == sorted(c.id for c in vips)
    assert AuditLog.select().where(AuditLog.action == "label-add").count() == 1
    assert any("already confirmed" in t for t in toasts(env))
    assert sum((m.text or "").startswith("Done") for m in env.sent_to(BORIS)) == 1


@SQLITE_ONLY
async def test_broadcast_filter_text_send_then_cancel_on_the_progress(env: Env) -> None:
    boris = operator_id(BORIS)
    mine = [factories.client(f"Mine {i}", lists=("VIP",), responsible=boris) for i in range(2)]
    factories.client("Vera's VIP", lists=("VIP",), responsible=factories.operator(VERA, "Vera").id)
    await env.say(BORIS, "/broadcast list:VIP")
    assert "needs the 'broadcast' permission" in (last(env, BORIS).text or "")
    await env.say(ANNA, f"/operators grant {BORIS} broadcast")
    await env.say(BORIS, "/broadcast list:VIP")
    assert (last(env, BORIS).text or "").startswith("2 clients match 'list:VIP'")
    await env.say(BORIS, "Скидка 20% до пятницы")
    ask = last(env, BORIS)
    assert "Broadcast plan: 2 recipients" in (ask.text or "") and Job.select().count() == 0
    await tap(env, BORIS, ask, "📣 Send")
    job = Job.get()
    assert ask.edits and (ask.text or "").startswith(f"Broadcast #{job.id}: running")
    assert texts(ask) == ["✖ Cancel"]
    rows = list(Message.select().where(Message.job == job.id))
    assert {r.client_id for r in rows} == {c.id for c in mine}
    assert {r.text for r in rows} == {"Скидка 20% до пятницы"}

    await tap(env, BORIS, ask, "✖ Cancel")
    assert jobs.progress(job.id).state == "cancelled"
    assert "cancelled" in (ask.text or "") and ask.buttons() == []
    assert not Message.select().where(Message.job == job.id).exists()

    # The other way out: Cancel on the confirmation sends nothing.
    await env.say(BORIS, "/broadcast list:VIP")
    await env.say(BORIS, "second")
    ask = last(env, BORIS)
    await tap(env, BORIS, ask, "Cancel")
    assert "nothing was sent" in (ask.text or "") and Job.select().count() == 1


@SQLITE_ONLY
async def test_export_arrives_as_a_csv_document_of_the_matching_clients(env: Env) -> None:
    factories.client("Ксения", lists=("VIP",), variables={"Размер": "XS"})
    factories.client("Пётр", lists=("VIP",))
    factories.client("Outside")
    factories.client("Vera's VIP", lists=("VIP",), responsible=factories.operator(VERA, "Vera").id)
    await env.say(ANNA, f"/operators grant {BORIS} export")
    await env.say(BORIS, "/export csv list:VIP")
    text, document = env.sent_to(BORIS)
    assert (text.text or "").startswith("Export: 2 clients matching 'list:VIP'")
    assert document.kind == "document" and document.file is not None
    assert (document.file.file_name or "").endswith(".csv")
    assert document.caption == "2 clients matching 'list:VIP'."
    table = list(csv.reader(io.StringIO(document.file.data.decode("utf-8-sig"))))
    assert table[0][:2] == ["client_id", "name"] and table[0][-1] == "Размер"
    assert sorted(row[1] for row in table[1:]) == ["Ксения", "Пётр"]


@SQLITE_ONLY
async def test_saved_filter_button_lists_its_clients(env: Env) -> None:
    factories.client("Ксения", variables={"Размер": "XS"})
    factories.client("Пётр")
    await env.say(BORIS, '/filters save xs var:"Размер"=XS')
    assert "Saved 'xs'" in (last(env, BORIS).text or "")
    await env.say(BORIS, "/filters")
    listing = last(env, BORIS)
    assert texts(listing) == ["🔎 xs"]
    await tap(env, BORIS, listing, "🔎 xs")
    opened = last(env, BORIS)
    assert opened is not listing and "Ксения" in (opened.text or "")
    assert "Пётр" not in (opened.text or "")
    # Anna has no saved filters: Boris's button is his alone.
    await env.say(ANNA, "/filters")
    assert "No saved filters" in (last(env, ANNA).text or "")


async def test_an_operator_sees_only_their_own_under_mine_and_in_unread(env: Env) -> None:
    """F10/F15 scoping through Telegram, on both databases."""
    boris, vera = operator_id(BORIS), factories.operator(VERA, "Vera").id
    env.emu.user(TOKEN, VERA)
    factories.client("Boris one", responsible=boris, unread=True)
    factories.client("Boris two", responsible=boris)
    for i in range(3):
        factories.client(f"Vera {i}", responsible=vera, unread=True)
    factories.client("Free one", unread=True)

    await env.say(BORIS, "/clients")
    [listing] = env.sent_to(BORIS)
    # Vera's clients are Others to Boris: listed (view_others, an operator's by default)...
    assert {"• All 6", "Mine 2", "Others 3", "Free 1"} <= set(texts(listing))
    await tap(env, BORIS, listing, "Others")
    assert "Vera 0" in (listing.text or "") and "Boris one" not in (listing.text or "")
    # ... until an admin revokes it: then he sees only his own and the free ones.
    await env.say(ANNA, f"/operators revoke {BORIS} view_others")
    assert "may no longer use 'view_others'" in (last(env, ANNA).text or "")
    await env.say(BORIS, "/clients")
    listing = last(env, BORIS)
    assert {"• All 3", "Mine 2", "Others 0", "Free 1"} <= set(texts(listing))
    await tap(env, BORIS, listing, "Mine")
    assert "— Mine: 2" in (listing.text or "")
    assert "Boris one" in (listing.text or "") and "Free one" not in (listing.text or "")
    await tap(env, BORIS, listing, "Others")
    assert "No clients here" in (listing.text or "")
    seen = [listing.text or "", *texts(listing)]
    for earlier, markup in listing.edits:
        seen.append(earlier or "")
        seen += [b["text"] for row in (markup or {}).get("inline_keyboard", []) for b in row]
    assert not any("Vera" in s for s in seen)

    await env.say(BORIS, "/unread")
    unread = last(env, BORIS)
    assert unread.text == "1 unread dialogs among your clients."
    await tap(env, BORIS, unread, "Show them")
    shown_list = last(env, BORIS)
    assert "Boris one" in (shown_list.text or "") and "Vera" not in (shown_list.text or "")
    await env.say(VERA, "/unread")
    assert env.sent_to(VERA)[-1].text == "3 unread dialogs among your clients."
    await env.say(ANNA, "/unread")
    assert (last(env, ANNA).text or "").startswith("5 unread dialogs in the project")


@SQLITE_ONLY
async def test_select_all_then_an_action_that_asks_for_its_argument(env: Env) -> None:
    made = [factories.client(f"Lead {i:02}") for i in range(12)]
    await env.say(ANNA, "/clients")
    [listing] = env.sent_to(ANNA)
    await tap(env, ANNA, listing, "Select clients")
    await tap(env, ANNA, listing, "Select all 12 matching")
    assert "Selecting: 12 chosen" in (listing.text or "")
    await tap(env, ANNA, listing, "Actions on the chosen")
    await tap(env, ANNA, last(env, ANNA), "list-add")
    assert "Send the list names" in (last(env, ANNA).text or "")
    await env.say(ANNA, "Spring")  # the answer to the prompt, a plain message
    ask = last(env, ANNA)
    assert (ask.text or "").startswith("list-add Spring — 12 clients")
    assert ListMembership.select().count() == 0
    await tap(env, ANNA, ask, "Confirm")
    assert (ask.text or "").startswith("Done: list-add on 12 clients")
    spring = MailingList.get(MailingList.name == "Spring")
    members = {
        m.client_id for m in ListMembership.select().where(ListMembership.mailing_list == spring)
    }
    assert members == {c.id for c in made}
    await env.say(ANNA, "Summer")  # the prompt was answered: plain text is no command now
    assert "Send a command" in (last(env, ANNA).text or "")


@SQLITE_ONLY
async def test_card_prompts_and_assignment_through_telegram(env: Env) -> None:
    c = factories.client("Prompted")
    await env.say(ANNA, f"/client {c.id}")
    [card] = env.sent_to(ANNA)
    await tap(env, ANNA, card, "Labels")
    labels = last(env, ANNA)
    await tap(env, ANNA, labels, "➕ New label")
    assert "Send the name of the label" in (last(env, ANNA).text or "")
    await env.say(ANNA, "Hot lead")
    hot = Label.get(Label.name == "Hot lead")
    assert LabelMembership.get(LabelMembership.client == c.id).label_id == hot.id
    assert "✅ Hot lead" in texts(last(env, ANNA))
    await tap(env, ANNA, card, "👤 Assign")
    await tap(env, ANNA, last(env, ANNA), "Boris")
    assert Client.get_by_id(c.id).responsible_id == operator_id(BORIS)
    assert "Bound to Boris" in toasts(env)


@SQLITE_ONLY
async def test_purge_and_resendfailed_confirm_progress_and_cancel(env: Env) -> None:
    factories.client("Left", unsubscribed=True)
    factories.client("Stays")
    await env.say(ANNA, "/purge_unsubscribed")
    ask = last(env, ANNA)
    assert "1 clients" in (ask.text or "") and "cannot be undone" in (ask.text or "")
    await tap(env, ANNA, ask, "Cancel")
    assert Client.select().count() == 2 and ask.buttons() == []
    await env.say(ANNA, "/purge_unsubscribed")
    await tap(env, ANNA, last(env, ANNA), "Confirm")
    assert [c.name for c in Client.select()] == ["Stays"]

    for i in range(2):
        row = outbox.enqueue(factories.client(f"Failed {i}"), f"promo {i}")
        outbox.claim(row.id)
        outbox.mark_failed(row.id, "500", "boom")
    await env.say(ANNA, f"/operators grant {BORIS} broadcast")
    await env.say(BORIS, "/resendfailed")
    progress = last(env, BORIS)
    assert (progress.text or "").startswith("Resend of failed messages plan: 2 recipients")
    assert Job.select().count() == 0  # the plan first; the job starts on Resend
    await tap(env, BORIS, progress, "🔁 Resend")
    job = Job.get()
    assert (progress.text or "").startswith(f"Resend of failed messages #{job.id}: running")
    assert texts(progress) == ["✖ Cancel"]
    first = Message.select().where(Message.job == job.id).order_by(Message.id).first()
    Message.update(status="sent").where(Message.id == first.id).execute()
    await asyncio.sleep(0.05)
    assert await env.admin.run_round() == 1  # the live message is refreshed in place
    assert "sent 1" in (progress.text or "") and progress.edits
    await tap(env, BORIS, progress, "✖ Cancel")
    assert jobs.progress(job.id).state == "cancelled" and progress.buttons() == []
    assert Message.select().where(Message.job == job.id).count() == 1  # the sent one stays
