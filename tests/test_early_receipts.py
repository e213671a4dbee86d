"""Receipts that overtake the sender: WhatsApp may post "sent", "delivered" or "failed" for a
message before our sender has recorded the id Meta gave it. They wait and then apply."""

from __future__ import annotations

import asyncio
import datetime as dt

import peewee

from commands.write import deliver_now
from emulators.whatsapp import GraphEmulator
from store import outbox
from store.clock import utcnow
from store.delivery_status import apply_receipts
from store.models import Bot, Client, EarlyReceipt, Message
from store.setup import sync_bots
from tests.email.conftest import eventually
from tests.whatsapp_support import ACCESS_TOKEN, APP_SECRET, serve, settings_for


def sending_row() -> Message:
    sync_bots([("wa", "whatsapp")])
    client = Client.create(bot=Bot.get(Bot.name == "wa"), messenger_id="+16315551181")
    row = outbox.enqueue(client, "hi")
    claimed = outbox.claim(row.id)
    assert claimed is not None
    return claimed


def test_receipts_before_mark_sent_apply_when_the_id_is_recorded(db: peewee.Database) -> None:
    row = sending_row()
    early = [("wamid.A", "sent", None, None), ("wamid.A", "delivered", None, None)]
    assert apply_receipts("wa", early) == 0  # no message carries wamid.A yet
    assert EarlyReceipt.select().count() == 2
    assert outbox.mark_sent(row.id, "wamid.A")
    assert Message.get_by_id(row.id).status == "delivered"
    assert EarlyReceipt.select().count() == 0


def test_an_early_failure_leaves_the_message_failed_for_f4(db: peewee.Database) -> None:
    row = sending_row()
    apply_receipts("wa", [("wamid.F", "failed", "131026", "Message Undeliverable")])
    outbox.mark_sent(row.id, "wamid.F")
    done = Message.get_by_id(row.id)
    assert (done.status, done.error_code, done.error_text) == (
        "failed",
        "131026",
        "Message Undeliverable",
    )


def test_receipts_for_ids_that_never_turn_up_are_dropped_after_a_day(db: peewee.Database) -> None:
    row = sending_row()
    apply_receipts("wa", [("wamid.foreign", "read", None, None)])
    EarlyReceipt.update(created_at=utcnow() - dt.timedelta(days=2)).execute()
    apply_receipts("wa", [("wamid.other", "sent", None, None)])
    assert [r.platform_message_id for r in EarlyReceipt.select()] == ["wamid.other"]
    outbox.mark_sent(row.id, "wamid.mine")  # an unrelated id settles nothing
    assert Message.get_by_id(row.id).status == "sent"
    # A receipt for a known message that is stale is not kept either.
    apply_receipts("wa", [("wamid.mine", "sent", None, None)])
    assert EarlyReceipt.select().count() == 1


async def test_the_emulators_instant_receipts_reach_the_row_the_worker_sends(
    db: peewee.Database,
) -> None:
    """The emulator posts signed "sent" and "delivered" webhooks the moment it answers, so
    they race the sender's own update; the row must end up delivered every time."""
    async with serve(settings_for()) as base:
        hook = f"{base}/webhooks/whatsapp/wa"
        async with GraphEmulator(
            access_token=ACCESS_TOKEN,
            app_secret=APP_SECRET,
            receipts_url=hook,
            seconds_per_recipient=0,
        ) as graph:
            settings = settings_for(graph.url, seconds_per_recipient=0)
            bot = Bot.get(Bot.name == "wa")
            rows = []
            for n in range(5):
                client = Client.create(bot=bot, messenger_id=f"+1631555118{n}")
                rows.append(outbox.enqueue(client, f"hi {n}").id)
            for row_id in rows:
                sent = await asyncio.to_thread(deliver_now, settings, row_id)
                assert sent.status in ("sent", "delivered")

            def all_delivered() -> bool:
                statuses = {m.status for m in Message.select().where(Message.id.in_(rows))}
                return statuses == {"delivered"} and len(graph.webhook_results) == 10

            await eventually(all_delivered, "every row delivered, every receipt posted")
            assert set(graph.webhook_results) == {200}
    assert EarlyReceipt.select().count() == 0
