"""A campaign recipient takes its outbox row's outcome in the transaction that writes it
(``store.campaigns.outcomes``), so reading the results writes nothing — on both databases."""

from __future__ import annotations

import datetime as dt
import importlib

import peewee
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.email.mailbox import mark_bounced
from bots.email.parse import Bounce
from store import outbox
from store.campaigns import audience, model, schedule
from store.campaigns.outcomes import SENT_STATUSES
from store.campaigns.results import results, total
from store.campaigns.send import enqueue_due
from store.clock import utcnow
from store.db import write_transaction
from store.delivery_status import apply_receipt
from store.models import Campaign, CampaignRecipient, Client, Message
from tests import factories
from tests.test_campaigns import pacing

CR = CampaignRecipient
EVENTS = [
    "claim",
    "sent",
    "failed",
    "uncertain",
    "retry",
    "receipt sent",
    "receipt delivered",
    "receipt read",
    "receipt failed",
    "cancel",
    "requeue",
    "worker died",
    "bounce",
]


def one_recipient(name: str, kind: str = "telegram") -> tuple[Campaign, int]:
    """A campaign to one new client of bot ``shop_<kind>``, its row enqueued: (campaign, row id)."""
    on = factories.bot(f"shop_{kind}", kind)
    client = factories.client(name, on=on)
    now = utcnow()
    since = now - dt.timedelta(hours=24)
    draft = model.create(name, [{"text": "Sale", "subject": "Sale"}], now=now)
    chosen = Client.select().where(Client.id == client.id)
    launched = audience.launch(draft.id, chosen, steps={on.id: 0.0}, window_since=since, now=now)
    assert enqueue_due(launched, 1e9, window_since=since, now=now) == 1
    row_id = CR.get(CR.campaign_id == launched.id).message_id
    assert row_id is not None
    return launched, row_id


def act(event: str, row_id: int) -> None:
    """One write of the outbox, a platform or a mailbox to the row, through the real path."""
    row = Message.get_by_id(row_id)
    paper = f"p-{row_id}"
    if event == "claim":
        outbox.claim(row_id)
    elif event == "sent":
        outbox.mark_sent(row_id, paper)
    elif event == "failed":
        outbox.mark_failed(row_id, "403", "Forbidden: bot was blocked by the user")
    elif event == "uncertain":
        outbox.mark_uncertain(row_id, "timeout", "Request timeout error")
    elif event == "retry":
        outbox.retry_later(row_id, utcnow(), "429", "Too Many Requests")
    elif event.startswith("receipt "):
        with write_transaction():
            apply_receipt(row.bot_id, paper, event.split()[1], error_code="131026")
    elif event == "cancel":
        outbox.cancel_queued([row_id], statuses=("queued", "sending"))
    elif event == "requeue":
        outbox.requeue(row_id)
    elif event == "worker died":
        with write_transaction():
            outbox.settle_dead_once([row_id], utcnow(), "its worker's lease ran out")
    elif event == "bounce":
        with write_transaction():
            mark_bounced(row.bot, Bounce(paper, "a@example.com", "mailbox full", failed=True))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=st.lists(st.sampled_from(EVENTS), max_size=8))
def test_the_recipient_always_says_what_became_of_its_row(
    db: peewee.Database, events: list[str]
) -> None:
    campaign, row_id = one_recipient(f"c{Client.select().count()}")
    expected: tuple[str, str | None] = ("queued", None)
    for event in events:
        act(event, row_id)
        row = Message.get_by_id(row_id)
        if row.status in (*SENT_STATUSES, "failed", "uncertain"):
            expected = ("sent" if row.status in SENT_STATUSES else row.status, row.error_code)
        recipient = CR.get(CR.campaign_id == campaign.id)
        assert (recipient.status, recipient.reason) == expected, (event, row.status)
    figures = total(results(campaign.id))
    counted = {"queued": figures.remaining, "sent": figures.sent, "uncertain": figures.uncertain}
    counted["failed"] = sum(figures.failed.values())
    assert counted[expected[0]] == 1 and sum(counted.values()) == 1


def test_a_campaign_is_done_at_the_tick_after_its_last_outcome(db: peewee.Database) -> None:
    campaign, row_id = one_recipient("Anna")
    now = utcnow()
    schedule.tick(pacing(), now=now)
    assert model.get(campaign.id).status == "sending"
    act("claim", row_id)
    act("sent", row_id)
    assert CR.get(CR.campaign_id == campaign.id).status == "sent"  # before any tick
    schedule.tick(pacing(), now=now + schedule.MIN_STEP)
    assert model.get(campaign.id).status == "done"


def test_reading_the_results_writes_nothing(db: peewee.Database) -> None:
    """A row finished behind the outbox's back (as before this change) stays unsettled
    however often the results are read; the upgrade's migration settles it once."""
    campaign, row_id = one_recipient("Boris")
    Message.update(status="delivered", platform_message_id="p-1").where(
        Message.id == row_id
    ).execute()
    before = CR.get(CR.campaign_id == campaign.id)
    for _ in range(2):
        figures = total(results(campaign.id))
        assert (figures.remaining, figures.sent) == (1, 0)
    after = CR.get(CR.campaign_id == campaign.id)
    assert (after.status, after.updated_at) == ("queued", before.updated_at)
    upgrade = importlib.import_module("store.migrations.1860_settle_campaign_recipients")
    upgrade.up(None, db)
    settled = CR.get(CR.campaign_id == campaign.id)
    assert (settled.status, settled.platform_message_id) == ("sent", "p-1")
    figures = total(results(campaign.id))
    assert (figures.sent, figures.remaining) == (1, 0)
