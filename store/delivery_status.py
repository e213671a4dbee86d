"""Delivery receipts: a platform says what became of a message we sent (sent/delivered/read/failed).

The outbound ``Message`` is found by its bot and the platform's id for it. Receipts arrive
late, twice and out of order, so each update is one conditional UPDATE that only ever moves
a message forward: ``sent < delivered < read``; a late ``sent`` changes nothing. ``failed``
replaces queued/sending/sent (the message did not arrive: F4 may resend it). A ``delivered``
or ``read`` after ``failed`` wins and clears the error (the platform delivered it after all;
resending would duplicate it). A receipt for a message that is not ours changes nothing.

A receipt can overtake the sender: the platform answers the send with its id, and may post
"sent", "delivered" or even "failed" for that id before the sender has recorded it
(``outbox.mark_sent``). Such a receipt is kept (``EarlyReceipt``) and applied when the id
turns up; one for an id that never turns up (a message sent by another tool on the same
number) is dropped after ``EARLY_RECEIPT_TTL``.

Receipts are cleaned like inbound messages (``store.sanitize``) before they are stored: the
platform's error code and text are the platform's words, and a NUL or a lone surrogate in them
must not fail the request that carried them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

from store.campaigns.outcomes import RETURNED, follow_rows
from store.clock import utcnow
from store.db import write_transaction
from store.models import Bot, EarlyReceipt, Message
from store.sanitize import clean_text, clip, clip_key

Receipt = tuple[str, str, str | None, str | None]

RECEIPT_STATUSES: Final = ("sent", "delivered", "read", "failed")
EARLY_RECEIPT_TTL: Final = dt.timedelta(days=1)

# For each receipt: the statuses a message may be in for the receipt to apply.
_APPLIES_OVER: Final[dict[str, tuple[str, ...]]] = {
    "sent": ("queued", "sending"),
    "delivered": ("queued", "sending", "sent", "failed"),
    "read": ("queued", "sending", "sent", "delivered", "failed"),
    "failed": ("queued", "sending", "sent"),
}


def apply_receipt(
    bot_id: int,
    platform_message_id: str,
    status: str,
    *,
    error_code: str | None = None,
    error_text: str | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Move our outbound message ``platform_message_id`` of bot ``bot_id`` to ``status``.

    Returns True when a row changed; False for a stale, repeated or foreign receipt. A
    campaign's recipient of the row takes its new outcome (``store.campaigns.outcomes``).
    Call inside a write transaction.
    ``failed`` stores ``error_code``/``error_text``; the other statuses clear them.
    """
    if status not in _APPLIES_OVER:
        raise ValueError(f"unknown delivery status {status!r}; one of {RECEIPT_STATUSES}")
    updates: dict[Any, Any] = {Message.status: status, Message.updated_at: now or utcnow()}
    if status == "failed":
        updates[Message.error_code] = error_code
        updates[Message.error_text] = error_text
    else:
        updates[Message.error_code] = None
        updates[Message.error_text] = None
    ours = (
        (Message.bot == bot_id)
        & (Message.platform_message_id == platform_message_id)
        & (Message.direction == "out")
    )
    changed = list(
        Message.update(updates)
        .where(ours & (Message.status.is_null() | Message.status.in_(_APPLIES_OVER[status])))
        .returning(*RETURNED)
        .tuples()
        .execute()
    )
    follow_rows(changed, now=now)  # a campaign's recipient takes the outcome
    return bool(changed)


def clean_receipt(receipt: Receipt) -> Receipt:
    """``receipt`` with storable text: controls dropped, surrogates replaced, the error code
    clipped to its column and the id to the platform id's column (kept unique)."""
    wamid, status, code, text = receipt
    if code is not None:
        code = clip(clean_text(code), Message.error_code.max_length)[0]
    return (
        clip_key(clean_text(wamid)),
        status,
        code,
        None if text is None else clean_text(text),
    )


def apply_receipts(bot_name: str, receipts: Sequence[Receipt]) -> int:
    """Apply ``(platform_message_id, status, error_code, error_text)`` receipts of one bot in
    one transaction; returns how many messages changed. Unknown statuses are skipped, and so
    are receipts whose id is empty once cleaned."""
    receipts = [r for r in map(clean_receipt, receipts) if r[0]]
    if not receipts:
        return 0
    bot_id = Bot.select(Bot.id).where(Bot.name == bot_name).scalar()
    if bot_id is None:
        from store.errors import NotFound

        raise NotFound(f"unknown bot {bot_name!r}")
    changed = 0
    now = utcnow()
    early: list[str] = []
    with write_transaction():
        for wamid, status, code, text in receipts:
            if status not in _APPLIES_OVER:
                continue
            if apply_receipt(bot_id, wamid, status, error_code=code, error_text=text, now=now):
                changed += 1
            elif not _ours(bot_id, wamid):
                EarlyReceipt.create(
                    bot=bot_id,
                    platform_message_id=wamid,
                    status=status,
                    error_code=code,
                    error_text=text,
                    created_at=now,
                )
                early.append(wamid)
        if early:
            cutoff = now - EARLY_RECEIPT_TTL
            EarlyReceipt.delete().where(EarlyReceipt.created_at < cutoff).execute()
    for wamid in dict.fromkeys(early):
        # The sender may have recorded the id between our look and our commit.
        changed += settle_early_receipts(wamid)
    return changed


def _ours(bot_id: int, platform_message_id: str) -> bool:
    return bool(
        Message.select(Message.id)
        .where(
            (Message.bot == bot_id)
            & (Message.platform_message_id == platform_message_id)
            & (Message.direction == "out")
        )
        .exists()
    )


def settle_early_receipts(platform_message_id: str) -> int:
    """Apply and drop the receipts kept for ``platform_message_id`` once one of our messages
    carries it; returns how many messages changed.

    Both sides call it after their own commit — ``outbox.mark_sent`` and a receipt that found
    no message — so whichever commits last sees both and nothing is missed; applying twice
    changes nothing (receipts only move forward). Costs one indexed look when nothing waits.
    """
    if not (
        EarlyReceipt.select(EarlyReceipt.id)
        .where(EarlyReceipt.platform_message_id == platform_message_id)
        .exists()
    ):
        return 0
    changed = 0
    with write_transaction():
        waiting = list(
            EarlyReceipt.select()
            .where(EarlyReceipt.platform_message_id == platform_message_id)
            .order_by(EarlyReceipt.id)
        )
        settled = [r.id for r in waiting if _ours(r.bot_id, platform_message_id)]
        for receipt in waiting:
            if receipt.id in settled:
                changed += apply_receipt(
                    receipt.bot_id,
                    platform_message_id,
                    receipt.status,
                    error_code=receipt.error_code,
                    error_text=receipt.error_text,
                )
        if settled:
            EarlyReceipt.delete().where(EarlyReceipt.id.in_(settled)).execute()
    return changed
