"""The campaign tick: starts scheduled campaigns, advances each sending campaign's clock and
enqueues the recipients whose slot has come. Every dispatching process runs it (a dispatcher
tick hook, ``commands.campaigns.tick_hook``); the store keeps all of its state, so a campaign
survives restarts and any number of processes may tick.

Exactly one process acts on a campaign per tick: the start and each clock step are one
conditional UPDATE on ``Campaign.version`` (compare-and-set), and the slice is enqueued in the
same transaction, so a loser sees a changed version and leaves it. Even if two processes did
enqueue the same slice, the outbox's unique dedup key keeps one row per client
(``store.campaigns.send``).

The campaign's clock (``elapsed_s``) counts sending time only: it stands still while the
campaign is paused, during quiet hours (``QuietHours``, in the project's zone) and while no
process ticks (a step counts at most ``MAX_STEP_S``), so pacing resumes where it stopped
instead of sending a backlog in a burst.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from config.campaigns import parse_quiet_hours
from store.campaigns.audience import freeze
from store.campaigns.model import get, move
from store.campaigns.send import enqueue_due, left
from store.clock import in_zone, utcnow
from store.db import write_transaction
from store.models import Campaign, Operator

# A clock step never counts more than this: time when no process ticked is not sending time.
MAX_STEP_S = 10.0
# Recipients whose slot is this close are enqueued now (the limiter paces them exactly).
LOOKAHEAD_S = 1.0
# A campaign's clock steps at most this often: a dispatcher ticks every 0.2 s, and each step
# is a write (on SQLite the one write lock, shared with ingest).
MIN_STEP = dt.timedelta(seconds=0.5)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """No campaign sends from ``start`` to ``end`` (project time; may wrap past midnight)."""

    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """``22:00-09:00`` -> QuietHours; ``ValueError`` naming what is wrong."""
        return cls(*parse_quiet_hours(text))

    def covers(self, moment: dt.datetime, zone: dt.tzinfo) -> bool:
        """Whether ``moment`` (naive UTC) falls in the quiet hours of ``zone``."""
        clock = in_zone(moment, zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end


@dataclass(frozen=True, slots=True)
class Pacing:
    """What a tick needs from the configuration: ``steps`` (bot id -> seconds between two of
    its bulk messages), the project's ``zone``, the ``quiet`` hours, and ``window_since``
    (now -> the earliest last message that keeps a WhatsApp window open)."""

    steps: dict[int, float]
    zone: zoneinfo.ZoneInfo
    quiet: QuietHours | None
    window_since: Callable[[dt.datetime], dt.datetime]


def tick(pacing: Pacing, *, now: dt.datetime | None = None, batch: int = 2000) -> int:
    """One tick over every scheduled or sending campaign; returns recipients handled."""
    from store.campaigns.model import active_ids

    now = now or utcnow()
    handled = 0
    for campaign_id in active_ids():
        handled += tick_one(campaign_id, pacing, now=now, batch=batch)
    return handled


def tick_one(campaign_id: int, pacing: Pacing, *, now: dt.datetime, batch: int = 2000) -> int:
    campaign = get(campaign_id)
    started = False
    if campaign.status == "scheduled":
        if campaign.start_at is not None and campaign.start_at > now:
            return 0
        if not _start(campaign, pacing, now):
            return 0
        campaign = get(campaign_id)
        started = True
    if campaign.status != "sending":
        return 0
    if not started and campaign.ticked_at is not None and now < campaign.ticked_at + MIN_STEP:
        # Ticked a moment ago (the slice already reached LOOKAHEAD_S ahead), or by a process
        # whose clock is ahead of ours: no write now, the time counts at the next step.
        return 0
    quiet = pacing.quiet is not None and pacing.quiet.covers(now, pacing.zone)
    step = 0.0
    if not quiet and campaign.ticked_at is not None:
        step = min(MAX_STEP_S, max(0.0, (now - campaign.ticked_at).total_seconds()))
    clock = campaign.elapsed_s + step
    handled = 0
    with write_transaction():
        won = (
            Campaign.update(
                elapsed_s=clock, ticked_at=now, version=Campaign.version + 1, updated_at=now
            )
            .where(
                (Campaign.id == campaign_id)
                & (Campaign.version == campaign.version)
                & (Campaign.status == "sending")
            )
            .execute()
        )
        if won != 1:
            return 0
        if not quiet:
            campaign.elapsed_s = clock
            handled = enqueue_due(
                campaign,
                clock + LOOKAHEAD_S,
                window_since=pacing.window_since(now),
                batch=batch,
                now=now,
            )
        if not left(campaign_id):  # every recipient took its row's outcome as it was written
            move(campaign_id, ("sending",), "done", now=now, finished_at=now)
    return handled


def _start(campaign: Campaign, pacing: Pacing, now: dt.datetime) -> bool:
    """scheduled -> sending for the one process that wins; a ``--live`` campaign first adds
    the clients that match its filter now."""
    with write_transaction():
        won = move(campaign.id, ("scheduled",), "sending", now=now, started_at=now, ticked_at=now)
        if won and campaign.live:
            _add_live(campaign, pacing, now)
    return won


def _add_live(campaign: Campaign, pacing: Pacing, now: dt.datetime) -> int:
    from store.clients.query import select_clients
    from store.filters import parse_filter

    viewer = Operator.get_or_none(Operator.id == campaign.created_by_id)
    if viewer is None:  # the creator is gone: the filter as an admin reads it
        viewer = Operator(id=0, telegram_id=0, role="admin", name="campaign")
    flt = parse_filter(campaign.filter_text, viewer, pacing.zone)
    added = freeze(
        campaign,
        select_clients(flt, viewer),
        steps=pacing.steps,
        window_since=pacing.window_since(now),
        now=now,
    )
    if added:
        Campaign.update(total=Campaign.total + added).where(Campaign.id == campaign.id).execute()
    return added
