"""A campaign's audience, frozen at launch: one ``INSERT ... SELECT`` from the filter's
query into ``campaign_recipient`` — no loop over clients.

Each matching client gets a row: ``pending`` with its slot on the campaign's clock, or
``skipped`` with the reason, decided in SQL:

* ``blocked`` (blocked by us), ``unsubscribed``;
* ``outside_window``: a WhatsApp client who has not written within the 24-hour window when
  the content has no WhatsApp template (free text would be refused).

Slots: within each bot, the reachable recipients in client order, one bot step apart (its
rate limit), or spread evenly over ``spread_s`` (first at 0, last at its end) when that is
slower. A/B variants are drawn
at random per recipient. UNIQUE(campaign, client) and ``ON CONFLICT DO NOTHING`` make a second
freeze (a ``--live`` campaign adding later matches at its start) add only the clients not
there yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

import peewee as pw

from store.campaigns.model import CampaignError, get, move
from store.clock import utcnow
from store.db import is_postgres, without_jit, write_transaction
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


def _slot(steps: dict[int, float], spread_s: float, bot: Any, window: dict[str, Any]) -> pw.Node:
    """SQL: a recipient's slot in seconds — its place among its bot's reachable recipients
    (``window``: partitioned by bot and reachability, in client order) times the bot's step,
    or its share of the spread when that is later (the last one at the spread's end). One
    window, so one sort."""
    place = pw.fn.ROW_NUMBER().over(**window) - 1
    step: pw.Node = pw.Value(0.0)
    if steps:
        step = pw.Case(bot, [(b, float(s)) for b, s in steps.items()], 0.0)
    at_limit = place * step
    if spread_s <= 0:
        return at_limit
    spread = pw.fn.PERCENT_RANK().over(**window) * float(spread_s)
    return pw.Case(None, [(spread > at_limit, spread)], at_limit)


def _variant(variants: int) -> pw.Node:
    """SQL: a variant drawn at random per recipient (0 .. ``variants`` - 1)."""
    if variants <= 1:
        return pw.Value(0)
    if is_postgres():
        return pw.fn.FLOOR(pw.fn.RANDOM() * variants)
    # SQLite's RANDOM() is a 64-bit integer; peewee's ``%`` would be GLOB, so spell it out.
    return pw.NodeList((pw.fn.ABS(pw.fn.RANDOM()), pw.SQL("%"), pw.Value(variants)))


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
    caller's transaction (on PostgreSQL without JIT for its remainder: compiling this
    statement took longer than running it).

    The skip reason is computed once per client in a materialized CTE (it holds the WhatsApp
    window's correlated ``EXISTS``); the outer ``SELECT`` numbers each bot's reachable
    recipients for their slots."""
    now = now or utcnow()
    without_jit()
    reason = skip_reason(window_since, window_bots(campaign.variants))
    matched = (
        Client.select(CLIENT_ID.alias("client_id"), Client.bot.alias("bot_id"), reason.alias("why"))
        .where(CLIENT_ID.in_(clients.select(CLIENT_ID)))
        .cte("audience", materialized=True)
    )
    why = matched.c.why
    window = {
        "partition_by": [matched.c.bot_id, why.is_null()],
        "order_by": [matched.c.client_id],
    }
    query = matched.select_from(
        pw.Value(campaign.id),
        matched.c.client_id,
        _variant(len(campaign.variants)),
        pw.Case(None, [(why.is_null(), "pending")], "skipped"),
        why,
        _slot(steps, campaign.spread_s, matched.c.bot_id, window),
        pw.Value(now),
    )
    fields = [
        CampaignRecipient.campaign_id,
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
