"""The campaigns part of /ops (commands.ops_campaigns), on both databases: a campaign sent
through the real outbox path, its outcomes, WhatsApp receipts and a reply, read back from
the table and from the whole page."""

from __future__ import annotations

import datetime as dt
import re

import peewee

from commands.health import DispatcherPulse, Health, ServiceHealth
from commands.ops_campaigns import (
    CAMPAIGN_HEADERS,
    RESULTS_FRESH_S,
    campaign_lines,
    campaigns_table,
)
from commands.ops_data import OpsView
from commands.ops_page import render as render_page
from store import outbox
from store.campaigns import audience, model
from store.campaigns.send import enqueue_due
from store.clock import utcnow
from store.delivery_status import apply_receipt
from store.models import Campaign, Client, Message
from tests import factories

UTC = dt.UTC
CONTENT = {"text": "Sale, {first_name|friend}!", "template": {"name": "sale", "params": []}}


def cells(html: str) -> dict[str, str]:
    """The table's one row, every cell's text by its header."""
    heads = re.findall(r'<th scope="col">([^<]*)</th>', html)
    values = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", html)]
    return dict(zip(heads, values, strict=True))


def sent_campaign() -> Campaign:
    """Six clients: one unsubscribed (skipped), two Telegram sent (one replies), one failed,
    one WhatsApp sent and read, one WhatsApp row still queued."""
    tg, wa = factories.bot("shop_tg"), factories.bot("shop_wa", "whatsapp")
    people = [factories.client(f"T{n}", f"10{n}", on=tg) for n in range(4)]
    people += [factories.client(f"W{n}", f"+1555000{n}", on=wa) for n in range(2)]
    Client.update(unsubscribed=True).where(Client.id == people[3].id).execute()
    now = utcnow()
    draft = model.create("Friday <sale>", [CONTENT], filter_text="tab:all", now=now)
    launched = audience.launch(
        draft.id,
        Client.select(),
        steps={tg.id: 0.0, wa.id: 0.0},
        window_since=now - dt.timedelta(hours=24),
        now=now,
    )
    enqueue_due(launched, 1e9, window_since=now - dt.timedelta(hours=24), now=now)
    rows = {m.client_id: m for m in Message.select().where(Message.direction == "out")}
    outcomes = {people[0].id: "sent", people[1].id: "sent", people[2].id: "failed"}
    outcomes[people[4].id] = "read"  # people[5]'s row stays queued
    for client_id, outcome in outcomes.items():
        row = rows[client_id]
        assert outbox.claim(row.id) is not None
        if outcome == "failed":
            outbox.mark_failed(row.id, "403", "Forbidden: bot was blocked by the user")
        else:
            outbox.mark_sent(row.id, f"pm-{row.id}")
        if outcome == "read":
            apply_receipt(row.bot_id, f"pm-{row.id}", "delivered")
            apply_receipt(row.bot_id, f"pm-{row.id}", "read")
    factories.inbound("100", "thanks!", bot_name="shop_tg")  # T0 answers
    assert len(rows) == 5
    return launched


def test_ops_table_shows_state_progress_and_results(db: peewee.Database) -> None:
    campaign = sent_campaign()
    (line,) = campaign_lines()
    row = cells(campaigns_table([line], UTC))
    assert list(row) == CAMPAIGN_HEADERS
    assert row["campaign"] == f"#{campaign.id} Friday &lt;sale&gt;"  # escaped, never markup
    assert row["status"] == "scheduled"
    assert row["progress"] == "4/5 (80%)"
    assert (row["clients"], row["sent"], row["remaining"]) == ("6", "3", "1")
    assert row["failed"] == "1 (403 1)"
    assert row["skipped"] == "1 (unsubscribed 1)"
    assert row["delivered / read (WhatsApp)"] == "1 (100 %) / 1 (100 %)"
    assert row["replied 24 h"] == "1 (33 %)"
    assert row["blocked 24 h"] == "0 (0 %)"
    assert row["filter"] == "tab:all"


def test_ops_page_has_the_campaigns_section(db: peewee.Database) -> None:
    sent_campaign()
    service = ServiceHealth("memory", True, "ok", 1.0, True, "ok", DispatcherPulse(), [], None)
    health = Health(utcnow(), service, [], True)
    view = OpsView(generated_at=utcnow(), broker="memory", campaigns=campaign_lines())
    page = render_page(view, health, UTC, "csrf")
    section = page.split("<h2>Campaigns</h2>", 1)[1].split("<h2>", 1)[0]
    assert 'id="campaigns"' in section and "Friday &lt;sale&gt;" in section
    empty = render_page(OpsView(generated_at=utcnow(), broker="memory"), health, UTC, "csrf")
    assert "No campaigns yet." in empty


def test_ops_counts_a_campaign_at_most_once_per_window(db: peewee.Database) -> None:
    """Every open /ops refreshes every 5 s: the figures are counted again only when they are
    RESULTS_FRESH_S old, so a send in between shows on the first refresh after that."""
    sent_campaign()
    start = utcnow() + dt.timedelta(hours=1)  # a moment no other test's read is cached at
    (first,) = campaign_lines(now=start)
    assert (first.result.sent, first.result.remaining) == (3, 1)
    queued = Message.get((Message.direction == "out") & (Message.status == "queued"))
    assert outbox.claim(queued.id) is not None
    outbox.mark_sent(queued.id, "pm-late")
    soon = start + dt.timedelta(seconds=RESULTS_FRESH_S - 1)
    (cached,) = campaign_lines(now=soon)
    assert (cached.result.sent, cached.result.remaining) == (3, 1)
    later = start + dt.timedelta(seconds=RESULTS_FRESH_S)
    (counted,) = campaign_lines(now=later)
    assert (counted.result.sent, counted.result.remaining) == (4, 0)
