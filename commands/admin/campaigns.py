"""/campaign (a campaign step by step, with buttons) and /campaigns (the latest, their
results, Pause / Resume / Cancel) — issue 18.

``/campaign NAME`` asks for the message (``store.campaigns.compose``: the text in Telegram
HTML with placeholders, then ``photo:``, ``button:``... lines), then the audience (any filter,
``saved:NAME`` included), then shows the plan (``commands.campaigns.plan_lines``, as the CLI
prints it) under buttons: a test to the operator's own chat, the start (now, or a time typed
in project time), the spread (none, 2 h, 8 h), a variant B (an A/B test, split at random),
Launch and Cancel. The choices live behind a
token (``commands.admin.tokens``); Launch takes it, so a double tap launches once. Launching
freezes the audience (``store.campaigns.audience.launch``) exactly as the CLI does.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Final

import click

from commands.admin import pending, tokens
from commands.admin.clients import parse
from commands.admin.context import CommandContext, CommandError
from commands.admin.registry import ADMIN_COMMANDS
from commands.admin.reply import Button, Reply
from commands.campaign_report import report
from commands.campaigns import parse_at, plan_lines, test_send
from commands.plan import campaign_plan, steps, window_since
from store.campaigns import audience, model
from store.campaigns.compose import PART_NAMES, compose, describe
from store.campaigns.content import ContentError, render
from store.campaigns.model import MAX_VARIANTS
from store.campaigns.placeholders import ClientFields
from store.clients.query import count_clients, select_clients
from store.clock import utcnow
from store.errors import NotFound, StoreError
from store.models import Campaign, Client

KIND: Final = "campaign"
EXPIRED: Final = tokens.GONE[KIND]
SPREADS: Final = ((0, "No spread"), (2 * 3600, "2 h"), (8 * 3600, "8 h"))
SHOWN: Final = 10
CONTENT_HELP: Final = (
    "Send the campaign's message. Telegram formatting as HTML (<b>bold</b>, <i>italic</i>, "
    '<a href="https://...">link</a>); placeholders {name}, {first_name|friend}, '
    "{var:City|your city}. Then, on the last lines, any of:\n"
    "photo: https://... (or video:, document:)\n"
    "button: Shop now | https://...\n"
    "subject: The email subject\n"
    "template: whatsapp_template_name en_US | {first_name|friend}\n"
    "Or /cancel."
)


@ADMIN_COMMANDS.command(
    "campaign",
    "/campaign NAME",
    "A campaign step by step: the message (photo, buttons, placeholders), the audience, the "
    "plan, a test to yourself, then now, at a time or spread over hours.",
    capability="broadcast",
)
def campaign_command(ctx: CommandContext, args: str) -> Reply:
    if not args:
        raise CommandError("Give the campaign a name, e.g. /campaign Friday sale.")
    pending.wait_for(ctx.operator.id, "campaign_content", {"name": args[:200]})
    return Reply(f"Campaign «{args[:200]}». {CONTENT_HELP}", force_reply=True)


@ADMIN_COMMANDS.awaiting("campaign_content", capability="broadcast")
def campaign_content(ctx: CommandContext, text: str, data: dict[str, Any]) -> Reply:
    try:
        content = compose(text)
    except ContentError as exc:
        raise CommandError(f"The message: {exc} (part lines: {PART_NAMES})") from None
    pending.wait_for(
        ctx.operator.id, "campaign_audience", {"name": data["name"], "content": content.to_json()}
    )
    mine = render(content, ClientFields(ctx.operator.name), "whatsapp", in_window=True).text
    return Reply(
        f"Read as:\n{describe(content)}\n\nAs plain text for you:\n{mine or '(template only)'}"
        "\n\nNow the audience: send a filter (label:VIP, saved:NAME, channel:shop_tg, ...), "
        "tab:all for everyone you may write to, or /cancel."
    )


@ADMIN_COMMANDS.awaiting("campaign_audience", capability="broadcast")
def campaign_audience(ctx: CommandContext, text: str, data: dict[str, Any]) -> Reply:
    flt = parse(ctx, text)
    if count_clients(flt, ctx.operator) == 0:
        raise CommandError("No clients match this filter.")
    pending.clear(ctx.operator.id)
    state = {
        "name": data["name"],
        "variants": [data["content"]],
        "f": text,
        "at": None,
        "spread": 0,
    }
    return plan_reply(ctx, tokens.put(ctx.operator.id, KIND, state), state)


def _at(state: dict[str, Any]) -> dt.datetime | None:
    return dt.datetime.fromisoformat(state["at"]) if state.get("at") else None


def plan_reply(
    ctx: CommandContext, token: str, state: dict[str, Any], *, edit: bool = False
) -> Reply:
    """The plan of the campaign ``state`` describes, under its buttons."""
    clients = select_clients(parse(ctx, state["f"]), ctx.operator)
    at, spread = _at(state), float(state["spread"])
    plan = campaign_plan(ctx.settings, clients, name=state["name"], spread_s=spread, at=at)
    variants = _variants(state)
    text, count = plan_lines(
        ctx.settings, plan, variants, clients.select(Client.id), at=at, spread_s=spread
    )

    def mark(chosen: bool, label: str) -> str:
        return f"✅ {label}" if chosen else label

    rows = [
        [Button("🧪 Test to me", data=f"cg:{token}:t")],
        [
            Button(mark(at is None, "Now"), data=f"cg:{token}:now"),
            Button(mark(at is not None, "⏰ At a time…"), data=f"cg:{token}:at"),
        ],
        [Button(mark(spread == s, label), data=f"cg:{token}:s{s}") for s, label in SPREADS],
        [
            Button("➕ Variant B (A/B test)", data=f"cg:{token}:b")
            if len(variants) < MAX_VARIANTS
            else Button("✖ Drop variant B", data=f"cg:{token}:a")
        ],
        [Button("Cancel", data=f"cg:{token}:n")],
    ]
    if count:
        rows[-1].insert(0, Button(f"🚀 Launch to {count}", data=f"cg:{token}:go"))
    shown = f"{text}\nFilter {state['f']!r}."
    if not count:
        shown += "\nNothing to send: every matching client is skipped."
    return Reply(shown, rows, edit=edit)


@ADMIN_COMMANDS.button("cg", capability="broadcast")
def campaign_button(ctx: CommandContext, payload: str) -> Reply:
    token, _, action = payload.partition(":")
    if action in ("go", "n"):  # Launch and Cancel spend the token: a double tap acts once
        state = tokens.take_confirmation(ctx, token, KIND)
    else:  # the other buttons change the plan and keep it
        found = tokens.get(token, ctx.operator.id, KIND)
        if found is None:
            raise CommandError(EXPIRED)
        state = found
    if action == "n":
        return Reply("Campaign cancelled: nothing was sent.", edit=True)
    if action == "go":
        return _launch(ctx, state)
    if action == "t":
        return _test(ctx, state)
    if action == "at":
        pending.wait_for(ctx.operator.id, "campaign_at", {"token": token})
        return Reply(
            "Send the start time in project time, e.g. 2026-12-24 10:00, or /cancel.",
            force_reply=True,
        )
    if action == "b":
        pending.wait_for(ctx.operator.id, "campaign_variant", {"token": token})
        return Reply(
            "Send variant B's message, written like the first; the recipients are split at "
            "random, half each, and the results compare them. Or /cancel.",
            force_reply=True,
        )
    if action == "now":
        state["at"] = None
    elif action == "a":
        state["variants"] = state["variants"][:1]
    elif action.startswith("s") and action[1:].isdigit():
        if int(action[1:]) not in {s for s, _ in SPREADS}:
            raise CommandError("Unknown spread.")
        state["spread"] = int(action[1:])
    else:
        raise CommandError("This button is no longer valid.")
    tokens.update(token, state)
    return plan_reply(ctx, token, state, edit=True)


def _prompted_state(ctx: CommandContext, data: dict[str, Any]) -> dict[str, Any] | None:
    """The campaign a prompt (a start time, variant B) belongs to; None, and the prompt
    closed, once it was launched, cancelled or expired."""
    state = tokens.get(data["token"], ctx.operator.id, KIND)
    if state is None:
        pending.clear(ctx.operator.id)
    return state


def _answered(ctx: CommandContext, token: str, state: dict[str, Any]) -> Reply:
    """Close the prompt, keep the changed ``state``, show the plan again."""
    pending.clear(ctx.operator.id)
    tokens.update(token, state)
    return plan_reply(ctx, token, state)


@ADMIN_COMMANDS.awaiting("campaign_at", capability="broadcast")
def campaign_at(ctx: CommandContext, text: str, data: dict[str, Any]) -> Reply:
    state = _prompted_state(ctx, data)
    if state is None:
        return Reply(EXPIRED, error=True)
    try:
        at = parse_at(text, ctx.settings.zone, utcnow())
    except click.ClickException as exc:
        raise CommandError(exc.message.replace("--at ", "")) from None
    return _answered(ctx, data["token"], {**state, "at": at.isoformat()})


@ADMIN_COMMANDS.awaiting("campaign_variant", capability="broadcast")
def campaign_variant(ctx: CommandContext, text: str, data: dict[str, Any]) -> Reply:
    state = _prompted_state(ctx, data)
    if state is None:
        return Reply(EXPIRED, error=True)
    try:
        content = compose(text)
    except ContentError as exc:
        raise CommandError(f"Variant B: {exc} (part lines: {PART_NAMES})") from None
    variants = [*state["variants"][:1], content.to_json()]
    return _answered(ctx, data["token"], {**state, "variants": variants})


def _variants(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(v) for v in state["variants"]]


def _test(ctx: CommandContext, state: dict[str, Any]) -> Reply:
    try:
        ids = test_send(ctx.settings, _variants(state), ctx.operator.telegram_id)
    except click.ClickException as exc:
        raise CommandError(exc.message.replace("--test-to ", "Test to ")) from None
    note = "Test sent to your chat with the bot"
    return Reply(f"{note} (outbox {', '.join(map(str, ids))}): check how it looks.", notice=note)


def _launch(ctx: CommandContext, state: dict[str, Any]) -> Reply:
    now = utcnow()
    at = _at(state)
    clients = select_clients(parse(ctx, state["f"]), ctx.operator)
    try:
        draft = model.create(
            state["name"],
            _variants(state),
            filter_text=state["f"],
            start_at=at,
            spread_s=float(state["spread"]),
            operator_id=ctx.operator.id,
            now=now,
        )
        campaign = audience.launch(
            draft.id,
            clients,
            steps=steps(ctx.settings),
            window_since=window_since(at or now),
            now=now,
        )
    except StoreError as exc:  # CampaignError, ContentError: one line, nothing launched
        raise CommandError(f"Not launched: {exc}") from None
    return Reply(
        f"Campaign {campaign.id} «{campaign.name}» {campaign.status}: {campaign.total} clients "
        "frozen.",
        _manage_buttons(campaign),
        edit=True,
    )


def _manage_buttons(campaign: Campaign) -> list[list[Button]]:
    row = [Button("📊 Results", data=f"cs:{campaign.id}:v")]
    if campaign.status in ("scheduled", "sending"):
        row.append(Button("⏸ Pause", data=f"cs:{campaign.id}:p"))
    if campaign.status == "paused":
        row.append(Button("▶ Resume", data=f"cs:{campaign.id}:r"))
    if campaign.status in model.ACTIVE:
        row.append(Button("✖ Cancel", data=f"cs:{campaign.id}:c"))
    return [row]


def _visible(ctx: CommandContext, campaign_id: int) -> Campaign:
    """The campaign, if this operator may see it (their own; an admin every one)."""
    try:
        campaign = model.get(campaign_id)
    except NotFound as exc:
        raise CommandError(f"{exc}.") from None
    if not ctx.is_admin and campaign.created_by_id != ctx.operator.id:
        raise CommandError(f"Campaign {campaign_id} is another operator's.")
    return campaign


def show(ctx: CommandContext, campaign: Campaign, *, edit: bool = False) -> Reply:
    """The campaign's results; while it sends, the admin bot refreshes them (``live``)."""
    text = "\n".join(report(campaign, ctx.settings.zone))
    live = f"cs:{campaign.id}:v" if campaign.status == "sending" else None
    return Reply(text, _manage_buttons(campaign), edit=edit, live=live)


@ADMIN_COMMANDS.command(
    "campaigns",
    "/campaigns [ID]",
    "The latest campaigns and their results; one campaign's results with Pause, Resume, Cancel.",
    capability="broadcast",
)
def campaigns_command(ctx: CommandContext, args: str) -> Reply:
    if args:
        if not args.isdigit():
            raise CommandError(f"{args!r} is not a campaign id.")
        return show(ctx, _visible(ctx, int(args)))
    query = Campaign.select().order_by(Campaign.id.desc()).limit(SHOWN)
    if not ctx.is_admin:
        query = query.where(Campaign.created_by == ctx.operator.id)
    found = list(query)
    if not found:
        return Reply("No campaigns yet. /campaign NAME starts one.")
    lines = [f"#{c.id} «{c.name}» {c.status}, {c.total} clients" for c in found]
    rows = [[Button(f"#{c.id} {c.name}"[:40], data=f"cs:{c.id}:v")] for c in found]
    return Reply("\n".join(lines), rows)


@ADMIN_COMMANDS.button("cs", capability="broadcast")
def campaign_manage_button(ctx: CommandContext, payload: str) -> Reply:
    number, _, action = payload.partition(":")
    if not number.isdigit():
        raise CommandError("This button is no longer valid.")
    campaign = _visible(ctx, int(number))
    if action == "v":
        return show(ctx, campaign)
    if action == "c":
        return Reply(
            f"Cancel campaign {campaign.id} «{campaign.name}»? What is not sent yet will not be "
            "sent; sends in progress finish.",
            [
                [
                    Button(f"Yes, cancel #{campaign.id}", data=f"cs:{campaign.id}:cy"),
                    Button("No, keep it", data=f"cs:{campaign.id}:v"),
                ]
            ],
        )
    change = {"p": model.pause, "r": model.resume, "cy": model.cancel}.get(action)
    if change is None:
        raise CommandError("This button is no longer valid.")
    try:
        changed = change(campaign.id)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    return show(ctx, changed, edit=True)
