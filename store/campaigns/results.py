"""What a campaign did, per A/B variant, in one grouped query.

Per variant: the recipients frozen, skipped by reason, still to send, sent, failed by the
platform's code, uncertain (may have arrived, never resent); of the sent, delivered and read
(WhatsApp's statuses, ``store.delivery_status``: Telegram and email report neither), replied
within 24 hours (an inbound message of the client's own within a day of the send) and blocked
the bot within 24 hours (Telegram's "blocked the bot" event, stored by ingest as a system
message). The send's moment is its outbox row's ``created_at``: a campaign enqueues each row
just before its slot (``store.campaigns.send``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import peewee as pw

from store.campaigns.model import count_expr
from store.db import is_postgres
from store.models import Bot, CampaignRecipient, Client, Message

CR: Any = CampaignRecipient
DAY = dt.timedelta(hours=24)
SMALL = 30  # per variant: fewer sent than this and rates say little


@dataclass(slots=True)
class VariantResult:
    variant: int
    recipients: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    remaining: int = 0
    sent: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    uncertain: int = 0
    whatsapp_sent: int = 0
    delivered: int = 0
    read: int = 0
    replied: int = 0
    blocked: int = 0

    @property
    def reply_rate(self) -> float:
        return self.replied / self.sent if self.sent else 0.0

    @property
    def block_rate(self) -> float:
        return self.blocked / self.sent if self.sent else 0.0


def _within_day(outbound: Any, condition: Callable[[Any], pw.ColumnBase]) -> pw.Node:
    """SQL: the client of ``outbound`` has an inbound message meeting ``condition`` within
    24 hours after it."""
    later = Message.alias("later")
    if is_postgres():
        until = outbound.created_at + pw.SQL("interval '24 hours'")
    else:
        until = pw.fn.strftime("%Y-%m-%d %H:%M:%f", outbound.created_at, "+1 day")
    return pw.fn.EXISTS(
        later.select(pw.SQL("1")).where(
            (later.client == outbound.client)
            & (later.direction == "in")
            & (later.created_at >= outbound.created_at)
            & (later.created_at <= until)
            & condition(later)
        )
    )


def results(campaign_id: int) -> list[VariantResult]:
    """Each variant's figures (variant 0 first). A pure read: the recipients took their
    outbox rows' outcomes when those were written (``store.campaigns.outcomes``)."""
    sent_row = Message.alias("sent_row")
    was_sent = CR.status == "sent"
    replied = _within_day(sent_row, lambda m: m.author_kind == "client")
    blocked = _within_day(
        sent_row, lambda m: (m.author_kind == "system") & (m.text == "blocked the bot")
    )
    rows: Any = (
        CR.select(
            CR.variant,
            CR.status,
            CR.reason,
            sent_row.status,
            Bot.kind,
            pw.fn.COUNT(CR.client),
            count_expr(was_sent & replied),
            count_expr(was_sent & blocked),
        )
        .join(Client, on=(CR.client == Client.id))
        .join(Bot, on=(Client.bot == Bot.id))
        .join(sent_row, pw.JOIN.LEFT_OUTER, on=(sent_row.id == CR.message_id))
        .where(CR.campaign_id == campaign_id)
        .group_by(CR.variant, CR.status, CR.reason, sent_row.status, Bot.kind)
        .tuples()
    )
    found: dict[int, VariantResult] = {}
    for variant, status, reason, row_status, kind, n, n_replied, n_blocked in rows:
        r = found.setdefault(variant, VariantResult(variant))
        r.recipients += n
        if status == "skipped":
            r.skipped[reason or "?"] += n
        elif status in ("pending", "queued"):
            r.remaining += n
        elif status == "failed":
            r.failed[reason or "?"] += n
        elif status == "uncertain":
            r.uncertain += n
        elif status == "sent":
            r.sent += n
            r.replied += int(n_replied)
            r.blocked += int(n_blocked)
            if kind == "whatsapp":
                r.whatsapp_sent += n
                r.delivered += n if row_status in ("delivered", "read") else 0
                r.read += n if row_status == "read" else 0
    return [found[v] for v in sorted(found)]


def total(parts: list[VariantResult]) -> VariantResult:
    """The variants added up (variant -1)."""
    whole = VariantResult(-1)
    for r in parts:
        whole.recipients += r.recipients
        whole.skipped.update(r.skipped)
        whole.remaining += r.remaining
        whole.sent += r.sent
        whole.failed.update(r.failed)
        whole.uncertain += r.uncertain
        whole.whatsapp_sent += r.whatsapp_sent
        whole.delivered += r.delivered
        whole.read += r.read
        whole.replied += r.replied
        whole.blocked += r.blocked
    return whole


def confidence_note(a: VariantResult, b: VariantResult, what: str = "reply") -> str:
    """Whether the two variants' ``what`` rates (reply or block) differ beyond chance: a
    two-proportion z-test at 95 %, and "too few" under ``SMALL`` sent per variant."""
    if min(a.sent, b.sent) < SMALL:
        return f"too few sent to compare the {what} rates (under {SMALL} per variant)"
    hits_a = a.replied if what == "reply" else a.blocked
    hits_b = b.replied if what == "reply" else b.blocked
    pooled = (hits_a + hits_b) / (a.sent + b.sent)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / a.sent + 1 / b.sent))
    if spread == 0:
        return f"no difference in the {what} rates"
    z = (hits_a / a.sent - hits_b / b.sent) / spread
    if abs(z) < 1.96:
        return f"the {what} rates differ by no more than chance would (95 % confidence)"
    better = "A" if z > 0 else "B"
    return f"variant {better}'s {what} rate is higher beyond chance (95 % confidence)"
