"""A campaign's life: created as a draft, launched (audience frozen), then sending, paused,
resumed, cancelled or done.

::

    draft --launch--> scheduled --tick at start_at--> sending --nothing left--> done
                          |   ^                        |   ^
                          pause resume                 pause resume
                          v   |                        v   |
                          paused ----------------------'
    any of scheduled / sending / paused --cancel--> cancelled

Every transition is one conditional UPDATE (``WHERE status IN ...``): of two operators
confirming the same launch, or two processes starting the same campaign, one wins and the
other is told in one line. A pause or cancel withdraws the campaign's outbox rows no worker
has claimed yet (their recipients go back to ``pending``), so a resumed campaign sends each of
them once, later; rows already claimed finish.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import peewee as pw

from store.campaigns.content import CampaignContent
from store.clock import utcnow
from store.db import write_transaction
from store.errors import NotFound, StoreError
from store.models import Campaign, CampaignRecipient, Message
from store.outbox import locked_ids

ACTIVE = ("scheduled", "sending", "paused")
FINISHED = ("done", "cancelled")
MAX_VARIANTS = 2


class CampaignError(StoreError):
    """A campaign cannot do what was asked (wrong state, bad arguments): one line says why."""


def create(
    name: str,
    variants: Sequence[dict[str, Any]],
    *,
    filter_text: str = "",
    start_at: dt.datetime | None = None,
    spread_s: float = 0.0,
    live: bool = False,
    operator_id: int | None = None,
    now: dt.datetime | None = None,
) -> Campaign:
    """A draft campaign. ``variants``: the content of each A/B variant (one, or
    ``MAX_VARIANTS``), ``CampaignContent`` JSON, checked here; ``start_at``: naive UTC, None
    for at once; ``spread_s``: pace the sends evenly over this many seconds (0: at the bots'
    limits)."""
    check(name, variants, spread_s=spread_s, live=live, start_at=start_at)
    now = now or utcnow()
    return Campaign.create(
        name=name.strip()[:200],
        filter_text=filter_text,
        variants=[dict(v) for v in variants],
        status="draft",
        start_at=start_at,
        spread_s=float(spread_s),
        live=live,
        created_by=operator_id,
        created_at=now,
        updated_at=now,
    )


def check(
    name: str,
    variants: Sequence[dict[str, Any]],
    *,
    spread_s: float = 0.0,
    live: bool = False,
    start_at: dt.datetime | None = None,
) -> None:
    """``CampaignError`` (or the content's ``ContentError``) naming the first thing wrong with
    a campaign's arguments; nothing is written."""
    if not name.strip():
        raise CampaignError("the campaign needs a name")
    if not 1 <= len(variants) <= MAX_VARIANTS:
        raise CampaignError(f"a campaign has 1 to {MAX_VARIANTS} variants, got {len(variants)}")
    for variant in variants:
        CampaignContent.from_json(dict(variant))  # ContentError names the first problem
    if spread_s < 0:
        raise CampaignError(f"the spread cannot be negative ({spread_s:g} s)")
    if live and start_at is None:
        raise CampaignError("--live needs a scheduled start (--at): a campaign sent now is frozen")


def get(campaign_id: int) -> Campaign:
    """The campaign ``campaign_id``; ``NotFound`` when there is none."""
    found = Campaign.get_or_none(Campaign.id == campaign_id)
    if found is None:
        raise NotFound(f"no campaign with id {campaign_id}")
    return found


def move(
    campaign_id: int,
    from_: Sequence[str],
    to: str,
    *,
    now: dt.datetime | None = None,
    **updates: Any,
) -> bool:
    """``from_`` -> ``to`` (plus ``updates``) as one conditional UPDATE; True for the one
    caller that made it."""
    now = now or utcnow()
    changes: dict[Any, Any] = {Campaign.status: to, Campaign.updated_at: now}
    changes[Campaign.version] = Campaign.version + 1
    changes.update({getattr(Campaign, k): v for k, v in updates.items()})
    changed = (
        Campaign.update(changes)
        .where((Campaign.id == campaign_id) & Campaign.status.in_(list(from_)))
        .execute()
    )
    return changed == 1


def _refuse(campaign_id: int, action: str) -> CampaignError:
    status = get(campaign_id).status
    return CampaignError(f"campaign {campaign_id} is {status}: it cannot be {action}")


def withdraw_queued(campaign_id: int) -> int:
    """Take back the campaign's outbox rows no worker has claimed (their recipients go back
    to ``pending``, with no row); returns how many. Call inside a write transaction."""
    queued = (
        Message.select(Message.id)
        .join(CampaignRecipient, on=(CampaignRecipient.message_id == Message.id))
        .where(
            (CampaignRecipient.campaign_id == campaign_id)
            & (CampaignRecipient.status == "queued")
            & (Message.status == "queued")
        )
    )
    ids = locked_ids(queued)
    if not ids:
        return 0
    CampaignRecipient.update(status="pending", message_id=None, updated_at=utcnow()).where(
        (CampaignRecipient.campaign_id == campaign_id) & CampaignRecipient.message_id.in_(ids)
    ).execute()
    Message.delete().where(Message.id.in_(ids) & (Message.status == "queued")).execute()
    return len(ids)


def pause(campaign_id: int, *, now: dt.datetime | None = None) -> Campaign:
    """Stop sending until ``resume``; the outbox rows not yet claimed are taken back."""
    with write_transaction():
        if not move(campaign_id, ("scheduled", "sending"), "paused", now=now):
            raise _refuse(campaign_id, "paused")
        withdraw_queued(campaign_id)
    return get(campaign_id)


def resume(campaign_id: int, *, now: dt.datetime | None = None) -> Campaign:
    """A paused campaign goes on where it stopped (its clock does not count the pause)."""
    now = now or utcnow()
    with write_transaction():
        started = Campaign.select(Campaign.started_at).where(Campaign.id == campaign_id).scalar()
        to = "sending" if started is not None else "scheduled"
        if not move(campaign_id, ("paused",), to, now=now, ticked_at=now):
            raise _refuse(campaign_id, "resumed")
    return get(campaign_id)


def cancel(campaign_id: int, *, now: dt.datetime | None = None) -> Campaign:
    """Stop for good: rows not yet claimed are taken back and never sent; sends in progress
    finish. A draft is cancelled too (nothing was frozen)."""
    now = now or utcnow()
    with write_transaction():
        if not move(campaign_id, ("draft", *ACTIVE), "cancelled", now=now, finished_at=now):
            raise _refuse(campaign_id, "cancelled")
        withdraw_queued(campaign_id)
    return get(campaign_id)


def latest(limit: int = 50) -> list[Campaign]:
    """The newest ``limit`` campaigns, newest first."""
    return list(Campaign.select().order_by(Campaign.id.desc()).limit(limit))


def active_ids() -> list[int]:
    """Campaigns a tick has work for: scheduled or sending."""
    query: Any = Campaign.select(Campaign.id).where(Campaign.status.in_(["scheduled", "sending"]))
    return [i for (i,) in query.order_by(Campaign.id).tuples()]


def count_expr(condition: pw.Node) -> pw.Node:
    """SQL: how many rows of the group meet ``condition``."""
    return pw.fn.COALESCE(pw.fn.SUM(pw.Case(None, [(condition, 1)], 0)), 0)
