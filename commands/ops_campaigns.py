"""The campaigns part of ``/ops`` (issue 18): the latest campaigns' state, progress and results.

Each row reads ``store.campaigns.results`` as ``switchboard campaigns show`` and the admin
bot's /campaigns do: the bar is what was attempted (sent, failed, uncertain) of what is to be
sent (the frozen recipients less the skipped); failed and skipped name their reasons;
delivered and read are WhatsApp's statuses (Telegram and email report none: the cell says
so); replied and blocked count within 24 hours of each send. Read-only: pausing, resuming and
cancelling stay with the CLI and the admin bot.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from html import escape

from commands.ops_health_page import at, table
from store.campaigns.results import VariantResult, results, total
from store.clock import utcnow
from store.db import database_proxy
from store.models import Campaign

CAMPAIGNS_SHOWN = 10
CAMPAIGN_HEADERS = ["campaign", "status", "start", "spread", "progress", "clients", "sent"]
CAMPAIGN_HEADERS += ["failed", "uncertain", "skipped", "remaining", "delivered / read (WhatsApp)"]
CAMPAIGN_HEADERS += ["replied 24 h", "blocked 24 h", "filter"]


@dataclass(frozen=True, slots=True)
class CampaignLine:
    campaign: Campaign
    result: VariantResult  # every variant added up


RESULTS_FRESH_S = 30.0
"""How old a campaign's figures on ``/ops`` may be, in seconds. Counting a 100,000-recipient
campaign costs 1–4 s of database time (docs/benchmarks.md) and every open ``/ops`` refreshes
every 5 s: without this, ten open dashboards would keep the store busy counting."""

# (database, campaign id, created_at) -> (read at, UTC; the figures). created_at tells a
# campaign from another store's campaign with the same id (tests, a restored backup).
_Key = tuple[int, int, dt.datetime]
_results_read: dict[_Key, tuple[dt.datetime, VariantResult]] = {}


def campaign_result(campaign: Campaign, now: dt.datetime | None = None) -> VariantResult:
    """``campaign``'s figures, every variant added up, counted at most once per
    ``RESULTS_FRESH_S`` in this process."""
    now = now or utcnow()
    key = (id(database_proxy.obj), campaign.id, campaign.created_at)
    read = _results_read.get(key)
    if read is not None and (now - read[0]).total_seconds() < RESULTS_FRESH_S:
        return read[1]
    result = total(results(campaign.id))
    if len(_results_read) > 10 * CAMPAIGNS_SHOWN:  # campaigns that left the page
        _results_read.clear()
    _results_read[key] = (now, result)
    return result


def campaign_lines(
    limit: int = CAMPAIGNS_SHOWN, now: dt.datetime | None = None
) -> list[CampaignLine]:
    """The latest ``limit`` campaigns, newest first, with their results (a grouped query each,
    at most once per ``RESULTS_FRESH_S``)."""
    found = Campaign.select().order_by(Campaign.id.desc()).limit(limit)
    return [CampaignLine(c, campaign_result(c, now)) for c in found]


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _reasons(counts: Counter[str]) -> str:
    n = sum(counts.values())
    if not n:
        return '<span class="num">0</span>'
    why = ", ".join(f"{reason} {k}" for reason, k in counts.most_common())
    return f'<span class="num bad">{n}</span> <span class="muted">({_e(why)})</span>'


def _rate(hits: int, of: int) -> str:
    return f"{hits} ({100 * hits / of:.0f} %)" if of else str(hits)


def _spread(seconds: float) -> str:
    if not seconds:
        return "at the limits"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min"


def progress_bar(line: CampaignLine) -> str:
    r = line.result
    planned = r.recipients - sum(r.skipped.values())
    done = r.sent + sum(r.failed.values()) + r.uncertain
    percent = 100 * done // planned if planned else 100
    return (
        f'<progress max="{max(1, planned)}" value="{done if planned else 1}" '
        f'aria-label="Campaign {line.campaign.id}: {percent}% sent"></progress> '
        f"{done}/{planned} ({percent}%)"
    )


def campaign_row(line: CampaignLine, zone: dt.tzinfo) -> list[str]:
    c, r = line.campaign, line.result
    if r.whatsapp_sent:
        statuses = f"{_rate(r.delivered, r.whatsapp_sent)} / {_rate(r.read, r.whatsapp_sent)}"
    else:
        statuses = '<span class="muted">none: Telegram and email report no statuses</span>'
    return [
        f"#{c.id} {_e(c.name)}",
        _e(c.status),
        _e(at(c.start_at, zone, empty="at once")),
        _e(_spread(c.spread_s)),
        progress_bar(line),
        f'<span class="num">{r.recipients}</span>',
        f'<span class="num">{r.sent}</span>',
        _reasons(r.failed),
        f'<span class="num">{r.uncertain}</span>',
        _reasons(r.skipped),
        f'<span class="num">{r.remaining}</span>',
        statuses,
        _e(_rate(r.replied, r.sent)),
        _e(_rate(r.blocked, r.sent)),
        _e(c.filter_text or "(all)"),
    ]


def campaigns_table(lines: list[CampaignLine], zone: dt.tzinfo) -> str:
    rows = [campaign_row(line, zone) for line in lines]
    note = f'<p class="muted">Figures are counted at most every {RESULTS_FRESH_S:.0f} s.</p>'
    return (note if lines else "") + table(CAMPAIGN_HEADERS, rows, "campaigns", "No campaigns yet.")
