"""A campaign's audience, frozen at launch: one ``INSERT ... SELECT`` from the filter's
query into ``campaign_recipient`` — no loop over clients.

Each matching client gets a row: ``pending`` with its slot on the campaign's clock, or
``skipped`` with the reason, decided in SQL:

* ``blocked`` (blocked by us), ``unsubscribed``;
* ``outside_window``: a WhatsApp client who has not written within the 24-hour window when
  the content has no WhatsApp template (free text would be refused).

Slots: within each bot, the reachable recipients in client order, one bot step apart (its
rate limit), or spread evenly over ``spread_s`` when that is slower. A/B variants are dealt
in a random order, alternately, so the split is random and even. UNIQUE(campaign, client)
and ``ON CONFLICT DO NOTHING`` make a second freeze (a ``--live`` campaign adding later
matches at its start) add only the clients not there yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

import peewee as pw

from store.campaigns.model import CampaignError, get, move
from store.clock import utcnow
from store.db import write_transaction
from store.models import Bot, Campaign, CampaignRecipient, Client
from store.plan import wrote_since

CLIENT_ID: Any = Client.id
SKIP_REASONS = ("blocked", "unsubscribed", "outside_window")


def window_bots(variants: list[dict[str, Any]]) -> list[int]:
    """Bots whose clients need an open WhatsApp window: the WhatsApp bots, unless every
    variant carries a WhatsApp template."""
    if variants and all(v.get("whatsapp_template") or v.get("template") for v in variants):
        return []
    return [b.id for b in Bot.select(Bot.id).where(Bot.kind == "whatsapp")]


def skip_reason(window_since: dt.datetime, needs_window: Collection[int]) -> pw.ColumnBase:
    """SQL over ``Client``: why a client is not sent to now (NULL: they are)."""
    cases: list[tuple[pw.Node, str]] = [
        (Client.blocked == True, "blocked"),  # noqa: E712
        (Client.unsubscribed == True, "unsubscribed"),  # noqa: E712
    ]
    if needs_window:
        closed = Client.bot.in_(list(needs_window)) & ~wrote_since(window_since)
        cases.append((closed, "outside_window"))
    return pw.Case(None, cases, None)


def _slot(steps: dict[int, float], spread_s: float, reachable: pw.Node) -> pw.Node:
    """SQL: a recipient's slot in seconds — its place among its bot's reachable recipients
    times the bot's step, or the spread's share when that is longer."""
    group = [Client.bot, reachable]
    place = pw.fn.ROW_NUMBER().over(partition_by=group, order_by=[CLIENT_ID]) - 1
    step: pw.Node = pw.Value(0.0)
    if steps:
        step = pw.Case(Client.bot, [(b, float(s)) for b, s in steps.items()], 0.0)
    if spread_s > 0:
        share = pw.Value(float(spread_s)) / pw.fn.COUNT(CLIENT_ID).over(partition_by=group)
        step = pw.Case(None, [(share > step, share)], step)
    return place * step


def _variant(variants: int) -> pw.Node:
    """SQL: the variant, dealt alternately in a random order (an even, random split)."""
    if variants <= 1:
        return pw.Value(0)
    dealt = pw.fn.ROW_NUMBER().over(order_by=[pw.fn.RANDOM()])
    return dealt - (dealt / variants) * variants  # the remainder, in integer arithmetic


def freeze(
    campaign: Campaign,
    clients: pw.ModelSelect[Client],
    *,
    steps: dict[int, float],
    window_since: dt.datetime,
    now: dt.datetime | None = None,
) -> int:
    """Store the clients of ``clients`` (a filter's ``select_clients``) as the campaign's
    recipients, those already there left alone; returns how many were added. Runs inside the
    caller's transaction."""
    now = now or utcnow()
    reason = skip_reason(window_since, window_bots(campaign.variants))
    reachable = pw.Case(None, [(reason.is_null(), 1)], 0)
    query = Client.select(
        pw.Value(campaign.id),
        CLIENT_ID,
        _variant(len(campaign.variants)),
        pw.Case(None, [(reason.is_null(), "pending")], "skipped"),
        reason,
        _slot(steps, campaign.spread_s, reachable),
        pw.Value(now),
    ).where(CLIENT_ID.in_(clients.select(CLIENT_ID)))
    fields = [
        CampaignRecipient.campaign,
        CampaignRecipient.client,
        CampaignRecipient.variant,
        CampaignRecipient.status,
        CampaignRecipient.reason,
        CampaignRecipient.slot_s,
        CampaignRecipient.updated_at,
    ]
    insert = CampaignRecipient.insert_from(query, fields).on_conflict_ignore()
    return int(insert.as_rowcount().execute())


def launch(
    campaign_id: int,
    clients: pw.ModelSelect[Client],
    *,
    steps: dict[int, float],
    window_since: dt.datetime,
    now: dt.datetime | None = None,
) -> Campaign:
    """draft -> scheduled with its audience frozen, in one transaction; the tick starts it at
    ``start_at`` (at once when None). A second launch of the same campaign (a double
    confirmation) is refused in one line and changes nothing."""
    now = now or utcnow()
    with write_transaction():
        if not move(campaign_id, ("draft",), "scheduled", now=now):
            status = get(campaign_id).status
            raise CampaignError(f"campaign {campaign_id} is already {status}: launched once")
        campaign = get(campaign_id)
        total = freeze(campaign, clients, steps=steps, window_since=window_since, now=now)
        Campaign.update(total=total).where(Campaign.id == campaign_id).execute()
    return get(campaign_id)
