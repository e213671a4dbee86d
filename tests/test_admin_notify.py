"""Notifications of new client messages and job progress: the store side (no Telegram)."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time

import peewee
import pytest

from commands.admin import ADMIN_COMMANDS, CommandContext, find_operator
from commands.admin.notify import SNIPPET, Claimed, bursts, claim_range, describe, plan
from commands.admin.progress import LIVE_FOR, claim_due, progress_reply, track
from config import Settings
from store import jobs
from store.clients.unread import is_unread
from store.clock import utcnow
from store.db import database_proxy
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


LATER = dt.timedelta(seconds=5)


def texts(claimed: Claimed | None) -> list[str]:
    """The texts the single notifications of ``claimed`` show (Anna's copies)."""
    return [n.reply.text.split("\n", 1)[1] for n in plan(claimed) if n.chat_id == 111]


def test_history_is_not_notified_and_each_message_once(staff: dict[str, CommandContext]) -> None:
    factories.inbound("old", "before the bot started")
    assert claim_range(now=utcnow() + LATER) is None  # places the cursor only
    factories.inbound("c1", "hello")
    factories.inbound("c1", "anyone?")
    claimed = claim_range(now=utcnow() + LATER)
    assert texts(claimed) == ["hello", "anyone?"]
    [burst] = bursts(claimed)  # type: ignore[arg-type]
    assert (burst.client_name, burst.bot_name, burst.count) == ("Client c1", "shop_tg", 2)
    assert claim_range(now=utcnow() + LATER) is None
    # A message younger than the grace period waits for the next round.
    factories.inbound("c1", "fresh")
    assert claim_range() is None
    assert texts(claim_range(now=utcnow() + LATER)) == ["fresh"]


def test_concurrent_claims_never_share_a_message(
    staff: dict[str, CommandContext], db_url: str
) -> None:
    """Four claimers while two writers add messages: every message is claimed exactly once."""
    claim_range(now=utcnow() + LATER)
    bot = Bot.get()
    client_ids = [factories.client(f"k{i}", on=bot).id for i in range(20)]
    ranges: list[Claimed] = []
    writing = threading.Event()
    writing.set()

    def writer(half: int) -> None:
        for i in range(10):
            factories.inbound_burst(client_ids[half * 10 : half * 10 + 10], 1, bot, tag=f"{i}")
            time.sleep(0.1)
        database_proxy.close()

    def claimer() -> None:
        while writing.is_set():
            # The grace period keeps the cursor behind transactions still committing.
            if (got := claim_range(grace_s=0.3)) is not None:
                ranges.append(got)
            time.sleep(0.01)
        database_proxy.close()

    claimers = [threading.Thread(target=claimer) for _ in range(4)]
    writers = [threading.Thread(target=writer, args=(h,)) for h in range(2)]
    for t in claimers + writers:
        t.start()
    for t in writers:
        t.join()
    writing.clear()
    for t in claimers:
        t.join()
    if (rest := claim_range(grace_s=0)) is not None:
        ranges.append(rest)
    ranges.sort(key=lambda r: r.after)
    assert len(ranges) > 1
    assert all(a.upto == b.after for a, b in itertools.pairwise(ranges))
    claimed = sum(b.count for r in ranges for b in bursts(r))
    assert claimed == 200 == Message.select().where(Message.direction == "in").count()


def test_responsible_operator_or_every_admin(staff: dict[str, CommandContext]) -> None:
    claim_range(now=utcnow() + LATER)
    free = factories.inbound("free", "who answers?")
    boris_client = factories.inbound("b", "hi Boris")
    Client.update(responsible=staff["boris"].operator.id).where(Client.id == boris_client).execute()
    factories.inbound("b", "second", 1)
    notices = plan(claim_range(now=utcnow() + LATER), max_single=3)
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
    claim_range(now=utcnow() + LATER)
    bot = Bot.get()
    clients = [factories.client(f"c{i}", on=bot) for i in range(100)]
    mine = [c.id for c in clients[:10]]
    Client.update(responsible=staff["vera"].operator.id).where(Client.id.in_(mine)).execute()
    factories.inbound_burst([c.id for c in clients], 10, Bot.get())
    notices = plan(claim_range(now=utcnow() + LATER), max_single=3)
    assert sorted(n.chat_id for n in notices) == [111, 112, 333]
    vera = next(n for n in notices if n.chat_id == 333)
    assert vera.reply.text.startswith("📥 100 new messages from 10 clients")
    anna = next(n for n in notices if n.chat_id == 111)
    assert anna.reply.text.startswith("📥 900 new messages from 90 clients")
    assert "… and 75 more clients" in anna.reply.text
    assert anna.client_id is None and len(anna.reply.text) < 4096


def test_notification_buttons_respect_scope(staff: dict[str, CommandContext]) -> None:
    cid = factories.inbound("x", "hello")
    Client.update(responsible=staff["boris"].operator.id).where(Client.id == cid).execute()
    refused = ADMIN_COMMANDS.handle_button(staff["vera"], f"nt:m:{cid}")
    assert "No client" in refused.text
    assert is_unread(cid)
    done = ADMIN_COMMANDS.handle_button(staff["boris"], f"nt:m:{cid}")
    assert done.notice and "marked read" in done.notice
    assert not is_unread(cid)
    hint = ADMIN_COMMANDS.handle_button(staff["boris"], f"nt:r:{cid}")
    assert hint.force_reply and hint.about_client == cid and "Your answer to" in hint.text

    other = factories.inbound("y", "free one")
    taken = ADMIN_COMMANDS.handle_button(staff["vera"], f"nt:a:{other}")
    assert taken.notice and "bound to you" in taken.notice
    assert Client.get_by_id(other).responsible_id == staff["vera"].operator.id


def test_live_progress_is_claimed_by_one_refresher_and_ends_with_the_job(
    staff: dict[str, CommandContext],
) -> None:
    bot = Bot.get()
    for i in range(5):
        factories.client(f"r{i}", on=bot)
    job = jobs.create_broadcast(
        Client.select(), "Sale!", steps={bot.id: 60.0}, operator_id=staff["boris"].operator.id
    )
    reply = progress_reply(job.id)
    assert "Broadcast #" in reply.text and "of 5" in reply.text
    assert reply.live == f"pj:s:{job.id}"
    assert [b.data for row in reply.buttons for b in row] == [f"pj:c:{job.id}"]
    track(staff["boris"].operator.id, 222, 77, reply.live)
    assert claim_due(5.0) == []  # shown just now
    later = utcnow() + dt.timedelta(seconds=6)
    [due] = claim_due(5.0, now=later)
    assert (due.telegram_id, due.chat_id, due.message_id, due.live) == (222, 222, 77, reply.live)
    assert claim_due(5.0, now=later) == []  # claimed: no second refresher
    assert AdminNotice.get().job_id == job.id

    refused = ADMIN_COMMANDS.handle_button(staff["vera"], f"pj:c:{job.id}")
    assert "Only its starter or an admin" in refused.text
    assert ADMIN_COMMANDS.handle_button(staff["vera"], f"pj:s:{job.id}").live == reply.live
    cancelled = ADMIN_COMMANDS.handle_button(staff["boris"], f"pj:c:{job.id}")
    assert cancelled.edit and cancelled.buttons == [] and cancelled.live is None
    assert "cancelled" in cancelled.text
    assert jobs.progress(job.id).state == "cancelled"
    track(staff["boris"].operator.id, 222, 77, cancelled.live)
    assert AdminNotice.get().final is True
    assert claim_due(5.0, now=later + dt.timedelta(seconds=60)) == []


def test_describe_shows_attachments_and_cuts_long_texts() -> None:
    assert describe("", [{"kind": "photo"}, {"kind": "document"}]) == "[photo] [document]"
    assert describe("see this", [{"kind": "photo"}]) == "[photo] see this"
    assert describe(None, None) == "[empty message]"
    long = describe("x" * 1000, [])
    assert len(long) == SNIPPET and long.endswith("…")


def test_a_live_message_left_for_days_is_settled_not_refreshed(
    staff: dict[str, CommandContext],
) -> None:
    track(staff["anna"].operator.id, 111, 5, "pj:s:999")
    assert AdminNotice.get().job_id is None  # no such job: the message names it only
    assert claim_due(5.0, now=utcnow() + LIVE_FOR + dt.timedelta(minutes=1)) == []
    assert AdminNotice.get().final is True
