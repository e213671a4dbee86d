"""A campaign recipient follows its outbox row: the outcome is copied where it is written.

Every write of an outbound row's outcome — the sender's ``store.outbox.mark_sent`` /
``mark_failed`` / ``mark_uncertain`` and a platform's receipt (``store.delivery_status``),
which hand ``follow_rows`` the rows their UPDATE returned; a dead sender's rows made
``uncertain``, an operator's Cancel on ``/ops`` and an email bounce, which call ``follow`` —
copies it in its own transaction, so a campaign's recipients always say what became of their
rows and reading a campaign's results (``store.campaigns.results``) writes nothing. A row that
is no campaign's (its dedup key does not start with ``KEY_PREFIX``) costs the sender nothing
more: ``follow_rows`` skips it without a statement.

The recipient takes its row's outcome: ``sent`` (the row sent, delivered or read), ``failed``
with the platform's code, ``uncertain`` (a send that may have arrived, never retried). A later
outcome of the same row replaces an earlier one as it does on the row (a late "it was sent"
after ``uncertain``, WhatsApp's ``failed`` receipt after ``sent``, a failed row an operator
sent again), so the recipient and its row never disagree. A row going back to ``queued``
(a retry) leaves its recipient as it was until the row's next outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import peewee as pw

from store.clock import utcnow
from store.models import CampaignRecipient, Message

CR: Any = CampaignRecipient
KEY_PREFIX = "campaign:"  # a campaign's outbox row's dedup key: campaign:<id>:<client>
SENT_STATUSES = ("sent", "delivered", "read")
DONE_STATUSES = (*SENT_STATUSES, "failed", "uncertain")
# The recipients an outcome may change: linked to a row (queued) or already settled.
FOLLOWING = ("queued", "sent", "failed", "uncertain")
# What an outcome's UPDATE returns for ``follow_rows`` (``.returning(*RETURNED)``).
RETURNED = (
    Message.id,
    Message.client,
    Message.dedup_key,
    Message.status,
    Message.error_code,
    Message.platform_message_id,
)
Returned = tuple[int, int, str | None, str | None, str | None, str | None]


def follow_rows(rows: Iterable[Returned], *, now: dt.datetime | None = None) -> int:
    """Copy the outcomes of outbox rows just written (``RETURNED`` of each) onto their
    campaign recipients: one UPDATE by the recipient's key per finished campaign row, nothing
    for the others; returns how many recipients changed. Call in the transaction that wrote
    the rows."""
    changed = 0
    for row_id, client_id, key, status, code, platform_id in rows:
        if not (key or "").startswith(KEY_PREFIX) or status not in DONE_STATUSES:
            continue
        outcome = "sent" if status in SENT_STATUSES else status
        changed += (
            CR.update(
                status=outcome,
                reason=code,
                platform_message_id=platform_id,
                updated_at=now or utcnow(),
            )
            .where(
                (CR.client == client_id)  # the primary key (client, campaign) finds it
                & (CR.message_id == row_id)
                & CR.status.in_(list(FOLLOWING))
                & ((CR.status != outcome) | (pw.fn.COALESCE(CR.reason, "") != (code or "")))
            )
            .execute()
        )
    return changed


def follow(rows: pw.Node, *, now: dt.datetime | None = None) -> int:
    """Copy the outcomes of the outbox rows that ``rows`` (a condition on ``Message``)
    selects onto their campaign recipients, in one statement; returns how many recipients
    changed. Rows that are no campaign's, or not finished, change nothing. Call in the
    transaction that wrote the outcomes: ``rows`` is then a few rows, found by primary key or
    platform id."""
    finished = rows & Message.status.in_(list(DONE_STATUSES))
    outcome = Message.alias("outcome")

    def of_row(column: pw.Node) -> pw.Node:
        return outcome.select(column).where(outcome.id == CR.message_id)

    status = of_row(
        pw.Case(None, [(outcome.status.in_(list(SENT_STATUSES)), "sent")], outcome.status)
    )
    reason = of_row(outcome.error_code)
    changed = (CR.status != status) | (pw.fn.COALESCE(CR.reason, "") != pw.fn.COALESCE(reason, ""))
    return int(
        CR.update(
            status=status,
            reason=reason,
            platform_message_id=of_row(outcome.platform_message_id),
            updated_at=now or utcnow(),
        )
        .where(
            # The client first: the primary key (client, campaign) finds the few recipients.
            CR.client.in_(Message.select(Message.client).where(finished))
            & CR.message_id.in_(Message.select(Message.id).where(finished))
            & CR.status.in_(list(FOLLOWING))
            & changed
        )
        .execute()
    )
