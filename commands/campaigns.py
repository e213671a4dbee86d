"""``switchboard campaigns create|list|show|pause|resume|cancel`` and the dispatcher's campaign
tick (issue 18).

``create`` builds the content from options (or ``--content FILE`` JSON, once per variant),
prints the plan — recipients per bot, skipped by reason, placeholders that would be empty,
how long it takes at the limits or over the spread and when it would finish — and confirms
as every bulk command does (``commands.confirm``); then the audience is frozen and the
dispatching process (``serve`` or ``switchboard worker``) sends it from ``--at`` on.
``--test-to OPERATOR`` sends the rendered message to that operator's own chat and nothing
else.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from commands.acting import WORDS, FilterCommand, one_line_errors, open_settings, viewer_for
from commands.cli import CliContext, cli, pass_context
from commands.confirm import confirm, dry_run_option, yes_option
from commands.plan import campaign_plan, duration, render, steps, window_since
from config import Settings
from store.clock import shown, to_utc, utcnow

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([hms])")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> float:
    """``8h``, ``90m``, ``2h30m``, ``45s`` -> seconds; ``ClickException`` naming the text."""
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not parts or _DURATION.sub("", cleaned).strip():
        raise click.ClickException(f"--spread {text!r}: expected a duration like 8h, 90m, 2h30m")
    return sum(float(n) * _UNIT_S[unit] for n, unit in parts)


def parse_at(text: str, zone: dt.tzinfo, now: dt.datetime) -> dt.datetime:
    """``2026-12-24 10:00`` in the project's ``zone`` -> naive UTC, not in the past."""
    try:
        moment = dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise click.ClickException(
            f"--at {text!r}: expected a time like 2026-12-24 10:00 (project time)"
        ) from None
    at = to_utc(moment.replace(tzinfo=zone))
    if at < now - dt.timedelta(minutes=1):
        raise click.ClickException(f"--at {text!r} is in the past")
    return at


def build_variants(
    texts: tuple[str, ...],
    contents: tuple[str, ...],
    *,
    media: tuple[str, str] | None,
    buttons: tuple[str, ...],
    subject: str | None,
    template: str | None,
    template_params: tuple[str, ...],
) -> list[dict[str, Any]]:
    """The variants' content JSON from the options; ``ClickException`` for a bad one."""
    if contents:
        if texts:
            raise click.ClickException("give the text with --text/--variant or --content, not both")
        loaded = []
        for path in contents:
            try:
                loaded.append(json.loads(Path(path).read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                raise click.ClickException(f"--content {path}: {exc}") from None
        return loaded
    shared: dict[str, Any] = {}
    if media is not None:
        shared["media"] = {"kind": media[0], "url": media[1]}
    if buttons:
        pairs = [b.split("|", 1) for b in buttons]
        if any(len(p) != 2 for p in pairs):
            raise click.ClickException("--button: expected TEXT|URL, e.g. 'Shop|https://x.io'")
        shared["buttons"] = [{"text": t.strip(), "url": u.strip()} for t, u in pairs]
    if subject:
        shared["subject"] = subject
    if template:
        name, _, language = template.partition(":")
        shared["template"] = {
            "name": name,
            "language": language or "en_US",
            "params": list(template_params),
        }
    if not texts and not template:
        raise click.ClickException("the campaign needs --text (or --variant twice, or --content)")
    return [{**shared, "text": t} for t in texts] or [shared]


def pacing(settings: Settings) -> Any:
    """The tick's view of the configuration (``store.campaigns.schedule.Pacing``)."""
    from store.campaigns.schedule import Pacing, QuietHours

    quiet = settings.campaigns.quiet_hours
    return Pacing(
        steps=steps(settings),
        zone=settings.zone,
        quiet=QuietHours.parse(quiet) if quiet else None,
        window_since=window_since,
    )


def tick_hook(settings: Settings) -> Callable[[], None]:
    """The dispatcher's campaign tick: cheap when no campaign is scheduled or sending."""
    from store.campaigns.model import active_ids
    from store.campaigns.schedule import tick

    def campaign_tick() -> None:
        if active_ids():
            tick(pacing(settings))

    return campaign_tick


def plan_lines(
    settings: Settings,
    plan: Any,
    variants: list[dict[str, Any]],
    audience: Any,
    *,
    at: dt.datetime | None,
    spread_s: float,
) -> tuple[str, int]:
    """The campaign's plan as text and the number of messages it would send: the bulk plan
    (``commands.plan.render``), WhatsApp clients outside the window skipped when no variant
    has a template, the placeholders that would be empty, start and finish times."""
    from store.campaigns.content import CampaignContent
    from store.campaigns.personalise import missing_placeholders

    lines = [render(plan)]
    recipients = plan.recipients
    templated = all(v.get("template") for v in variants)
    if plan.outside_window and not templated:
        recipients -= plan.outside_window
        lines.append(
            f"Skipped as well: {plan.outside_window} WhatsApp clients outside the 24-hour "
            "window (the content has no WhatsApp template)."
        )
    for number, variant in enumerate(variants):
        label = f" (variant {'AB'[number]})" if len(variants) > 1 else ""
        for gap in missing_placeholders(CampaignContent.from_json(variant), audience):
            lines.append(
                f"Placeholder {gap.placeholder}{label} has no value and no default for "
                f"{gap.clients} clients: they get it empty (add a default: {{var:X|default}})."
            )
    if len(variants) > 1:
        lines.append("A/B: the recipients are split at random, half each.")
    zone = settings.zone
    start = at or utcnow()
    eta = plan.eta_s if not spread_s else max(plan.eta_s, spread_s)
    finish = start + dt.timedelta(seconds=eta)
    when = "now" if at is None else shown(at, zone)
    pace = f"spread over {duration(spread_s)}" if spread_s else "at the bots' limits"
    lines.append(f"Starts {when}, {pace}; finishes about {shown(finish, zone)}.")
    if settings.campaigns.quiet_hours:
        lines.append(
            f"Quiet hours {settings.campaigns.quiet_hours}: no sends then; the campaign "
            "pauses and resumes (the finish moves later)."
        )
    return "\n".join(lines), recipients


def test_send(settings: Settings, variants: list[dict[str, Any]], telegram_id: int) -> list[int]:
    """Each variant rendered for the operator ``telegram_id`` into their own chat with a
    Telegram bot (the first bot they have written to); returns the outbox ids."""
    from store.campaigns.content import CampaignContent
    from store.campaigns.content import render as render_content
    from store.campaigns.placeholders import ClientFields
    from store.models import Bot, Client, Operator
    from store.outbox import enqueue

    operator = Operator.get_or_none(Operator.telegram_id == telegram_id)
    if operator is None:
        raise click.ClickException(f"--test-to {telegram_id}: no operator with this Telegram id")
    chat = (
        Client.select()
        .join(Bot, on=(Client.bot == Bot.id))
        .where((Bot.kind == "telegram") & (Client.messenger_id == str(telegram_id)))
        .order_by(Client.id)
        .first()
    )
    if chat is None:
        raise click.ClickException(
            f"--test-to {telegram_id}: {operator.name} has no chat with a Telegram bot of "
            "this project yet: write /start to the bot first"
        )
    ids = []
    for variant in variants:
        row = render_content(
            CampaignContent.from_json(variant), ClientFields(operator.name), "telegram"
        )
        message = enqueue(
            chat,
            row.text,
            subject=row.subject,
            attachments=row.attachments,
            extra=row.extra,
            operator_id=operator.id,
            author_kind="operator",
        )
        ids.append(message.id)
    return ids


@cli.group("campaigns")
def campaigns_group() -> None:
    """Campaigns: rich, personalised, scheduled and spread broadcasts, each client at most once."""


@campaigns_group.command("create", cls=FilterCommand, context_settings=WORDS)
@click.argument("filter_words", nargs=-1, type=click.UNPROCESSED)
@click.option("--name", required=True, help="What the campaign is called.")
@click.option("--text", "texts", multiple=True, help="The message (Telegram HTML, placeholders).")
@click.option("--variant", "variants", multiple=True, help="An A/B variant's text; give it twice.")
@click.option("--content", "contents", multiple=True, help="A content JSON file (per variant).")
@click.option("--photo", default=None, help="URL of one photo.")
@click.option("--video", default=None, help="URL of one video.")
@click.option("--document", default=None, help="URL of one document.")
@click.option("--button", "buttons", multiple=True, help="A URL button: 'TEXT|URL' (repeatable).")
@click.option("--subject", default=None, help="The email subject.")
@click.option("--template", default=None, help="WhatsApp template NAME[:LANGUAGE].")
@click.option("--template-param", "template_params", multiple=True, help="Its body parameters.")
@click.option("--at", "at_text", default=None, help="Start at this project time: 2026-12-24 10:00.")
@click.option("--spread", default=None, help="Pace evenly over this long: 8h, 90m, 2h30m.")
@click.option("--live", is_flag=True, help="Add clients matching at the start (with --at).")
@click.option("--test-to", type=int, default=None, help="Send it to this operator only (id).")
@click.option("--as", "as_id", type=int, default=None, help="Telegram id of the operator.")
@yes_option
@dry_run_option
@pass_context
def campaigns_create(obj: CliContext, filter_words: tuple[str, ...], **options: Any) -> None:
    """Create a campaign to every client matching FILTER: prints the plan, asks to confirm on
    a terminal, then freezes the audience and schedules it (sent from --at, or now)."""
    from store.campaigns import audience, model
    from store.clients.query import select_clients
    from store.db import database_proxy, without_jit
    from store.filters import parse_filter
    from store.models import Client

    settings = open_settings(obj)
    viewer = viewer_for(settings, options["as_id"], "broadcast")
    texts = options["texts"] + options["variants"]
    if options["texts"] and options["variants"]:
        raise click.ClickException("give --text once, or --variant twice for an A/B test")
    media_options = [(k, options[k]) for k in ("photo", "video", "document") if options[k]]
    if len(media_options) > 1:
        raise click.ClickException("one medium per campaign: --photo, --video or --document")
    variants = build_variants(
        texts,
        options["contents"],
        media=media_options[0] if media_options else None,
        buttons=options["buttons"],
        subject=options["subject"],
        template=options["template"],
        template_params=options["template_params"],
    )
    now = utcnow()
    at = parse_at(options["at_text"], settings.zone, now) if options["at_text"] else None
    spread_s = parse_duration(options["spread"]) if options["spread"] else 0.0
    # One line naming the first problem (CampaignError, ContentError); nothing written.
    model.check(options["name"], variants, spread_s=spread_s, live=options["live"], start_at=at)
    if options["test_to"] is not None:
        ids = test_send(settings, variants, options["test_to"])
        click.echo(f"Test sent to operator {options['test_to']}: outbox rows {ids}.")
        return
    filter_text = " ".join(filter_words)
    with one_line_errors():
        flt = parse_filter(filter_text, viewer, settings.zone)
    clients = select_clients(flt, viewer)
    with database_proxy.atomic():  # read-only, short: closed before anyone is asked
        without_jit()
        plan = campaign_plan(settings, clients, name=options["name"], spread_s=spread_s, at=at)
        text, count = plan_lines(
            settings, plan, variants, clients.select(Client.id), at=at, spread_s=spread_s
        )
    go = confirm(
        text,
        count,
        yes=options["yes"],
        dry_run=options["dry_run"],
        action="send",
        question=f"Schedule the campaign to {count} recipients?",
        nothing="Nothing to send.",
        undone="sent",
    )
    if not go:
        return
    draft = model.create(
        options["name"],
        variants,
        filter_text=filter_text,
        start_at=at,
        spread_s=spread_s,
        live=options["live"],
        operator_id=viewer.id,
        now=now,
    )
    campaign = audience.launch(
        draft.id, clients, steps=steps(settings), window_since=window_since(at or now), now=now
    )
    click.echo(
        f"Campaign {campaign.id} {campaign.status}: {campaign.total} clients frozen. "
        f"./switchboard campaigns show {campaign.id} for results."
    )


# The group's other commands (list, show, pause, resume, cancel) register themselves on it.
from commands import campaign_report as _report  # noqa: E402,F401
