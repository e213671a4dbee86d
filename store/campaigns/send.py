"""Turning due recipients into outbox rows, at most once each.

``enqueue_due`` takes one slice of a campaign's ``pending`` recipients whose slot has come:
the ones that cannot be sent now (blocked, unsubscribed, WhatsApp window closed without a
template — decided again in SQL, since the audience was frozen earlier) become ``skipped``;
the others get one outbox row each, with the dedup key ``campaign:<id>:<client>``. The outbox
keeps that key UNIQUE per bot and the insert ignores a conflict, so however often a slice is
taken (two processes, a restart between the insert and the bookkeeping, a resume) a client
has at most one row; the recipient is linked to whichever row holds its key.

A recipient then takes its row's outcome where the outcome is written, in the same
transaction (``store.campaigns.outcomes``): ``sent``, ``failed`` with the platform's code,
``uncertain`` (a send that timed out and may have arrived: never retried, ``workers.sender``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import peewee as pw

from store.campaigns.audience import skip_reason, window_bots
from store.campaigns.content import CampaignContent, render
from store.campaigns.personalise import fields_for
from store.campaigns.placeholders import ClientFields
from store.clock import utcnow
from store.models import PRIORITY_BULK, Bot, Campaign, CampaignRecipient, Client, Message
from store.outbox import AT_MOST_ONCE_PREFIX, NOT_HANDED_OVER
from store.plan import wrote_since

CR: Any = CampaignRecipient
DEDUP_PREFIX = AT_MOST_ONCE_PREFIX


def dedup_key(campaign_id: int, client_id: int) -> str:
    """The outbox dedup key of a campaign's message to a client."""
    return f"{DEDUP_PREFIX}{campaign_id}:{client_id}"


def enqueue_due(
    campaign: Campaign,
    horizon_s: float,
    *,
    window_since: dt.datetime,
    batch: int = 2000,
    now: dt.datetime | None = None,
) -> int:
    """Outbox rows for up to ``batch`` pending recipients whose slot is at most
    ``horizon_s`` on the campaign's clock (skipping those that cannot be sent now); returns
    how many recipients were handled. Runs inside the caller's write transaction."""
    now = now or utcnow()
    reason = skip_reason(window_since, window_bots(campaign.variants))
    in_window = pw.Case(None, [(wrote_since(window_since), True)], False)
    rows: Any = (
        CR.select(CR.client, CR.client, CR.variant, Client.bot, Bot.kind, in_window, reason)
        .join(Client, on=(CR.client == Client.id))
        .join(Bot, on=(Client.bot == Bot.id))
        .where(
            (CR.campaign_id == campaign.id) & (CR.status == "pending") & (CR.slot_s <= horizon_s)
        )
        .order_by(CR.slot_s, CR.client)
        .limit(batch)
        .tuples()
    )
    due = list(rows)
    if not due:
        return 0
    skipped: dict[str, list[int]] = {}
    sendable = [r for r in due if r[6] is None]
    for r in due:
        if r[6] is not None:
            skipped.setdefault(r[6], []).append(r[0])
    for why, ids in skipped.items():
        CR.update(status="skipped", reason=why, updated_at=now).where(
            (CR.campaign_id == campaign.id) & CR.client.in_(ids)
        ).execute()
    if sendable:
        _insert_messages(campaign, sendable, now)
    return len(due)


def _insert_messages(campaign: Campaign, due: list[tuple[Any, ...]], now: dt.datetime) -> None:
    """One outbox row per recipient of ``due`` (rendered for its client and platform), a row
    already holding the key left alone; then the recipients point at their rows."""
    contents = [CampaignContent.from_json(v) for v in campaign.variants]
    fields: dict[int, ClientFields] = {}
    for number, content in enumerate(contents):
        ids = [r[1] for r in due if r[2] % len(contents) == number]
        fields.update(fields_for(ids, content))
    messages = []
    for _, client_id, variant, bot_id, kind, in_window, _ in due:
        content = contents[variant % len(contents)]
        row = render(content, fields.get(client_id, ClientFields()), kind, in_window=in_window)
        messages.append(
            {
                Message.client: client_id,
                Message.bot: bot_id,
                Message.direction: "out",
                Message.author_kind: "bot",
                Message.text: row.text,
                Message.subject: row.subject,
                Message.attachments: list(row.attachments),
                Message.extra: row.extra,
                Message.dedup_key: dedup_key(campaign.id, client_id),
                Message.priority: PRIORITY_BULK,
                Message.status: "queued",
                Message.attempts: 0,
                Message.next_attempt_at: now,
                Message.created_at: now,
                Message.updated_at: now - NOT_HANDED_OVER,
            }
        )
    Message.insert_many(messages).on_conflict_ignore().execute()
    key = pw.Value(DEDUP_PREFIX + f"{campaign.id}:").concat(pw.Cast(CR.client, "TEXT"))
    holder = Message.select(Message.id).where(
        (Message.client == CR.client) & (Message.dedup_key == key)
    )
    CR.update(status="queued", message_id=holder, updated_at=now).where(
        (CR.campaign_id == campaign.id) & CR.client.in_([r[0] for r in due])
    ).execute()


def left(campaign_id: int) -> int:
    """Recipients still to send: pending or queued."""
    return (
        CR.select()
        .where((CR.campaign_id == campaign_id) & CR.status.in_(["pending", "queued"]))
        .count()
    )
