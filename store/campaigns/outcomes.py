"""A campaign recipient follows its outbox row: the outcome is copied where it is written.

Every write of an outbound row's outcome — the sender's ``store.outbox.mark_sent`` /
``mark_failed`` / ``mark_uncertain``, a dead sender's rows made ``uncertain``, an operator's
Cancel on ``/ops``, a platform's receipt (``store.delivery_status``), an email bounce — calls
``follow`` in its own transaction, so a campaign's recipients always say what became of their
rows and reading a campaign's results (``store.campaigns.results``) writes nothing.

The recipient takes its row's outcome: ``sent`` (the row sent, delivered or read), ``failed``
with the platform's code, ``uncertain`` (a send that may have arrived, never retried). A later
outcome of the same row replaces an earlier one as it does on the row (a late "it was sent"
after ``uncertain``, WhatsApp's ``failed`` receipt after ``sent``, a failed row an operator
sent again), so the recipient and its row never disagree. A row going back to ``queued``
(a retry) leaves its recipient as it was until the row's next outcome.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import peewee as pw

from store.clock import utcnow
from store.models import CampaignRecipient, Message

CR: Any = CampaignRecipient
SENT_STATUSES = ("sent", "delivered", "read")
DONE_STATUSES = (*SENT_STATUSES, "failed", "uncertain")
# The recipients an outcome may change: linked to a row (queued) or already settled.
FOLLOWING = ("queued", "sent", "failed", "uncertain")


def follow(rows: pw.Node, *, now: dt.datetime | None = None) -> int:
    """Copy the outcomes of the outbox rows that ``rows`` (a condition on ``Message``)
    selects onto their campaign recipients; returns how many recipients changed. Rows that
    are no campaign's, or not finished, change nothing. Call in the transaction that wrote
    the outcomes: ``rows`` is then one row or a few, found by primary key or platform id."""
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
