"""Notifications of new client messages and job progress: the store side (no Telegram)."""

from __future__ import annotations

import datetime as dt
import threading

import peewee
import pytest

from commands.admin import ADMIN_COMMANDS, CommandContext, find_operator
from commands.admin.notify import claim_incoming, plan
from commands.admin.progress import attach, claim_due, claim_new_jobs
from config import Settings
from store import jobs
from store.clock import utcnow
from store.db import database_proxy
from store.inbound import InboundMessage, record_inbound
from store.models import AdminNotice, Bot, Client, Message
from store.setup import bootstrap_operators
from tests import factories


@pytest.fixture
def staff(db: peewee.Database) -> dict[str, CommandContext]:
    bootstrap_operators(
        [
            (111, "admin", "Anna", None),
            (112, "admin", "Artem", None),
            (222, "operator", "Boris", None),
            (333, "operator", "Vera", None),
        ]
    )
    factories.bot("shop_tg")
    settings = Settings()
    return {
        name: CommandContext(operator=find_operator(tid), settings=settings)  # type: ignore[arg-type]
        for name, tid in (("anna", 111), ("artem", 112), ("boris", 222), ("vera", 333))
    }


def incoming(messenger_id: str, text: str, n: int = 0) -> int:
    result = record_inbound(
        InboundMessage(
            bot_name="shop_tg",
            messenger_id=messenger_id,
            dedup_key=f"tg:{messenger_id}:{text}:{n}",
            text=text,
            name=f"Client {messenger_id}",
        )
    )
    return result.client_id


def burst(client_ids: list[int], per_client: int) -> None:
    """Many inbound rows at once, as a flood of updates would write them."""
    bot_id = Bot.get(Bot.name == "shop_tg").id
    now = utcnow()
    rows = [
        {
            "client": cid,
            "bot": bot_id,
            "direction": "in",
            "author_kind": "client",
            "text": f"message {i}",
            "dedup_key": f"burst:{cid}:{i}",
            "created_at": now,
            "updated_at": now,
        }
        for cid in client_ids
        for i in range(per_client)
    ]
    with database_proxy.atomic():
        for start in range(0, len(rows), 500):
            Message.insert_many(rows[start : start + 500]).execute()


LATER = dt.timedelta(seconds=5)


def test_history_is_not_notified_and_each_message_once(staff: dict[str, CommandContext]) -> None:
    incoming("old", "before the bot started")
    assert claim_incoming(now=utcnow() + LATER) == []  # places the cursor only
    incoming("c1", "hello")
    incoming("c1", "anyone?")
    claimed = claim_incoming(now=utcnow() + LATER)
    assert [c.text for c in claimed] == ["hello", "anyone?"]
    assert claimed[0].client_name == "Client c1" and claimed[0].bot_name == "shop_tg"
    assert claim_incoming(now=utcnow() + LATER) == []
    # A message younger than the grace period waits for the next round.
    incoming("c1", "fresh")
    assert claim_incoming() == []
    assert [c.text for c in claim_incoming(now=utcnow() + LATER)] == ["fresh"]


def test_concurrent_claims_never_share_a_message(
    staff: dict[str, CommandContext], db_url: str
) -> None:
    claim_incoming(now=utcnow() + LATER)
    client_ids = [factories.client(f"k{i}", on=Bot.get()).id for i in range(20)]
    burst(client_ids, 10)
    got: list[list[int]] = [[] for _ in range(4)]
    later = utcnow() + LATER

    def worker(slot: int) -> None:
        for _ in range(5):
            got[slot].extend(c.message_id for c in claim_incoming(limit=17, now=later))
        database_proxy.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [mid for ids in got for mid in ids]
    assert len(every) == len(set(every)) == 200


def test_responsible_operator_or_every_admin(staff: dict[str, CommandContext]) -> None:
    claim_incoming(now=utcnow() + LATER)
    free = incoming("free", "who answers?")
    boris_client = incoming("b", "hi Boris")
    Client.update(responsible=staff["boris"].operator.id).where(Client.id == boris_client).execute()
    incoming("b", "second", 1)
    notices = plan(claim_incoming(now=utcnow() + LATER), max_single=3)
    to = sorted((n.chat_id, n.client_id) for n in notices)
    # The free client's first message: both admins; Boris's client's two: Boris only.
    assert to == [(111, free), (112, free), (222, boris_client), (222, boris_client)]
    free_notice = next(n for n in notices if n.chat_id == 111)
    assert "who answers?" in free_notice.reply.text
    datas = [b.data for row in free_notice.reply.buttons for b in row]
    assert datas == [f"nt:r:{free}", f"nt:o:{free}", f"nt:m:{free}", f"nt:a:{free}"]
    boris_notice = next(n for n in notices if n.chat_id == 222)
    # A client already bound has no "assign to me".
    assert f"nt:a:{boris_client}" not in [b.data for row in boris_notice.reply.buttons for b in row]


def test_a_burst_of_1000_becomes_one_digest_per_recipient(
    staff: dict[str, CommandContext],
) -> None:
    claim_incoming(now=utcnow() + LATER)
    bot = Bot.get()
    clients = [factories.client(f"c{i}", on=bot) for i in range(100)]
    mine = [c.id for c in clients[:10]]
    Client.update(responsible=staff["vera"].operator.id).where(Client.id.in_(mine)).execute()
    burst([c.id for c in clients], 10)
    notices = plan(claim_incoming(now=utcnow() + LATER), max_single=3)
    assert sorted(n.chat_id for n in notices) == [111, 112, 333]
    vera = next(n for n in notices if n.chat_id == 333)
    assert vera.reply.text.startswith("📥 100 new messages from 10 clients")
    anna = next(n for n in notices if n.chat_id == 111)
    assert anna.reply.text.startswith("📥 900 new messages from 90 clients")
    assert "… and 75 more clients" in anna.reply.text
    assert anna.client_id is None and len(anna.reply.text) < 4096


def test_notification_buttons_respect_scope(staff: dict[str, CommandContext]) -> None:
    cid = incoming("x", "hello")
    Client.update(responsible=staff["boris"].operator.id).where(Client.id == cid).execute()
    refused = ADMIN_COMMANDS.handle_button(staff["vera"], f"nt:m:{cid}")
    assert "No client" in refused.text
    assert Client.get_by_id(cid).unread is True
    done = ADMIN_COMMANDS.handle_button(staff["boris"], f"nt:m:{cid}")
    assert done.notice and "marked read" in done.notice
    assert Client.get_by_id(cid).unread is False
    hint = ADMIN_COMMANDS.handle_button(staff["boris"], f"nt:r:{cid}")
    assert hint.text == "" and hint.notice and "Reply to this notification" in hint.notice

    other = incoming("y", "free one")
    taken = ADMIN_COMMANDS.handle_button(staff["vera"], f"nt:a:{other}")
    assert taken.notice and "bound to you" in taken.notice
    assert Client.get_by_id(other).responsible_id == staff["vera"].operator.id


def test_job_progress_message_claimed_once_then_edited_and_cancelled(
    staff: dict[str, CommandContext],
) -> None:
    bot = Bot.get()
    for i in range(5):
        factories.client(f"r{i}", on=bot)
    job = jobs.create_broadcast(
        Client.select(), "Sale!", steps={bot.id: 60.0}, operator_id=staff["boris"].operator.id
    )
    first = claim_new_jobs()
    assert [(u.chat_id, u.message_id) for u in first] == [(222, None)]
    assert "Broadcast #" in first[0].reply.text and "of 5" in first[0].reply.text
    assert [b.data for row in first[0].reply.buttons for b in row] == [f"pj:c:{job.id}"]
    assert claim_new_jobs() == []  # claimed: no second message from another process
    attach(first[0].notice_id, 77)
    assert claim_due(5.0) == []  # edited just now
    later = utcnow() + dt.timedelta(seconds=6)
    [edit] = claim_due(5.0, now=later)
    assert (edit.chat_id, edit.message_id, edit.reply.edit) == (222, 77, True)
    assert claim_due(5.0, now=later) == []

    refused = ADMIN_COMMANDS.handle_button(staff["vera"], f"pj:c:{job.id}")
    assert "Only its starter or an admin" in refused.text
    cancelled = ADMIN_COMMANDS.handle_button(staff["boris"], f"pj:c:{job.id}")
    assert cancelled.edit and cancelled.buttons == []
    assert "cancelled" in cancelled.text
    assert jobs.progress(job.id).state == "cancelled"
    assert AdminNotice.get(AdminNotice.job == job.id).final is True
    assert claim_due(5.0, now=later + dt.timedelta(seconds=60)) == []
