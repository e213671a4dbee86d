"""``switchboard campaigns list|show|pause|resume|cancel``: a campaign's state and results
(``store.campaigns.results``) as text, the same lines for every front end (``report``)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import click

from commands.acting import open_settings
from commands.campaigns import campaigns_group
from commands.cli import CliContext, pass_context
from store.clock import shown
from store.models import Campaign

LIST_HEADER = "id\tname\tstatus\tclients\tstart\tspread_s\tcreated"


def _reasons(counts: Counter[str]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in counts.most_common())


def _rate(hits: int, of: int) -> str:
    return f"{hits} ({100 * hits / of:.1f} %)" if of else str(hits)


def report(campaign: Campaign, zone: dt.tzinfo) -> list[str]:
    """The campaign's state and figures, per variant when it is an A/B test."""
    from store.campaigns.results import confidence_note, results, total

    parts = results(campaign.id)
    whole = total(parts)
    start = "at once" if campaign.start_at is None else shown(campaign.start_at, zone)
    spread = f", spread over {campaign.spread_s:g} s" if campaign.spread_s else ""
    left = "not sent (cancelled)" if campaign.status == "cancelled" else "remaining"
    lines = [
        f"campaign {campaign.id} «{campaign.name}» {campaign.status}: start {start}{spread}; "
        f"filter {campaign.filter_text or '(all clients)'}",
        f"clients {whole.recipients}: sent {whole.sent}, failed {sum(whole.failed.values())}, "
        f"uncertain {whole.uncertain}, skipped {sum(whole.skipped.values())}, "
        f"{left} {whole.remaining}",
    ]
    if whole.failed:
        lines.append(f"failed by reason: {_reasons(whole.failed)}")
    if whole.skipped:
        lines.append(f"skipped by reason: {_reasons(whole.skipped)}")
    if whole.uncertain:
        lines.append(
            "uncertain: the send timed out or its worker died and it may have arrived; "
            "it is never sent again"
        )
    if whole.whatsapp_sent:
        lines.append(
            f"WhatsApp: of {whole.whatsapp_sent} sent, delivered "
            f"{_rate(whole.delivered, whole.whatsapp_sent)}, read "
            f"{_rate(whole.read, whole.whatsapp_sent)}"
        )
    if whole.sent > whole.whatsapp_sent:
        lines.append("Telegram and email report no delivered/read statuses.")
    lines.append(
        f"within 24 h of the send: replied {_rate(whole.replied, whole.sent)}, blocked the bot "
        f"{_rate(whole.blocked, whole.sent)}"
    )
    if len(parts) > 1:
        for r in parts:
            lines.append(
                f"variant {'AB'[r.variant] if r.variant < 2 else r.variant}: sent {r.sent}, "
                f"replied {_rate(r.replied, r.sent)}, blocked {_rate(r.blocked, r.sent)}"
            )
        a, b = parts[0], parts[1]
        lines.append(f"A/B: {confidence_note(a, b, 'reply')}; {confidence_note(a, b, 'block')}")
    return lines


def list_line(campaign: Campaign, zone: dt.tzinfo) -> str:
    start = "now" if campaign.start_at is None else shown(campaign.start_at, zone)
    cells = [str(campaign.id), campaign.name, campaign.status, str(campaign.total), start]
    return "\t".join([*cells, f"{campaign.spread_s:g}", shown(campaign.created_at, zone)])


@campaigns_group.command("list")
@pass_context
def campaigns_list(obj: CliContext) -> None:
    """The latest campaigns, newest first."""
    from store.campaigns.model import latest

    settings = open_settings(obj)
    found = latest()
    if found:
        click.echo(LIST_HEADER)
    for campaign in found:
        click.echo(list_line(campaign, settings.zone))


@campaigns_group.command("show")
@click.argument("campaign_id", type=int)
@pass_context
def campaigns_show(obj: CliContext, campaign_id: int) -> None:
    """State and results of campaign CAMPAIGN_ID: sent, failed by reason, delivered and read
    (WhatsApp), replied and blocked within 24 h, per variant for an A/B test."""
    from store.campaigns.model import get

    settings = open_settings(obj)
    click.echo("\n".join(report(get(campaign_id), settings.zone)))


def _change(obj: CliContext, campaign_id: int, action: str) -> None:
    from store.campaigns import model

    settings = open_settings(obj)
    campaign = getattr(model, action)(campaign_id)
    click.echo("\n".join(report(campaign, settings.zone)))


@campaigns_group.command("pause")
@click.argument("campaign_id", type=int)
@pass_context
def campaigns_pause(obj: CliContext, campaign_id: int) -> None:
    """Stop sending CAMPAIGN_ID until resume (messages not yet taken by a worker wait)."""
    _change(obj, campaign_id, "pause")


@campaigns_group.command("resume")
@click.argument("campaign_id", type=int)
@pass_context
def campaigns_resume(obj: CliContext, campaign_id: int) -> None:
    """Go on sending CAMPAIGN_ID where it stopped; nobody gets it twice."""
    _change(obj, campaign_id, "resume")


@campaigns_group.command("cancel")
@click.argument("campaign_id", type=int)
@pass_context
def campaigns_cancel(obj: CliContext, campaign_id: int) -> None:
    """Stop CAMPAIGN_ID for good: nothing more is sent; sends in progress finish."""
    _change(obj, campaign_id, "cancel")
