"""The Mini App's "More" screen: the F-actions that are not about a selection of the list —
write to a new WhatsApp number (F1) or email address (F2), mark everything read (F3), the
card preview settings (F6) and delete the unsubscribed (F8).

Each calls what the admin bot calls: ``commands.whatsapp.start_whatsapp`` and
``commands.email.start_email`` (``/write_whatsapp``, ``/write_email``), ``plan_read_all``
(``/readall``), ``plan_purge_unsubscribed`` through ``commands.admin.bulk.plan_of``
(``/purge_unsubscribed``) and the operator's ``OperatorPreference`` row (``/preview``).
The app asks before the mass actions: a plan counts and stores a one-use token
(``commands.admin.tokens``); only its confirmation writes. The purge's token is the bulk
actions' kind, so it also re-checks the ``purge`` capability when confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from commands.admin import tokens
from commands.admin.bulk import plan_of
from commands.admin.clients import parse
from commands.admin.context import CommandContext, CommandError
from commands.admin.preferences import PREVIEW_FIELDS, preferences_of
from commands.app.client_actions import TOKEN_KIND as BULK_TOKEN_KIND
from commands.write import Started, WriteRefused
from config import EmailBotSettings, Settings, WhatsAppBotSettings
from store.clients.bulk import ActionError, BulkPlan, plan_bulk, plan_read_all, run_bulk
from store.models import OperatorPreference

READALL_TOKEN_KIND: Final = "readall"  # noqa: S105 (a token kind, no secret)
MAX_PREVIEW_VARIABLES: Final = 20


@dataclass(frozen=True, slots=True)
class Planned:
    """A mass action counted, not run: the question to confirm and its one-use token
    (None when there is nothing to do)."""

    count: int
    question: str
    token: str | None


def bot_names(settings: Settings, kind: type[WhatsAppBotSettings | EmailBotSettings]) -> list[str]:
    """The enabled bots of ``kind``, in the configuration's order."""
    return [b.name for b in settings.bots if isinstance(b, kind) and b.enabled]


def chosen_bot(
    settings: Settings, kind: type[WhatsAppBotSettings | EmailBotSettings], bot: str, label: str
) -> str:
    """``bot``, or the only enabled bot of ``kind`` when none is named; one line otherwise."""
    if bot:
        return bot
    names = bot_names(settings, kind)
    if not names:
        raise CommandError(f"no {label} bot is configured")
    if len(names) > 1:
        raise CommandError(f"choose the {label} bot: {', '.join(names)}")
    return names[0]


def write_whatsapp(ctx: CommandContext, bot: str, phone: str, text: str) -> Started:
    """F1, as ``/write_whatsapp``: queue ``text`` to ``phone`` (a new client if unknown)."""
    from commands.whatsapp import start_whatsapp

    name = chosen_bot(ctx.settings, WhatsAppBotSettings, bot, "WhatsApp")
    try:
        return start_whatsapp(ctx.settings, name, phone, text, operator_id=ctx.operator.id)
    except WriteRefused as exc:
        raise CommandError(str(exc)) from None


def write_email(ctx: CommandContext, bot: str, address: str, subject: str, text: str) -> Started:
    """F2, as ``/write_email``: queue a mail to ``address`` (a new client if unknown)."""
    from commands.email import start_email

    name = chosen_bot(ctx.settings, EmailBotSettings, bot, "email")
    if not subject.strip():
        raise CommandError("the subject is empty: write one")
    if not text.strip():
        raise CommandError("the text is empty: write what to send")
    try:
        return start_email(
            ctx.settings, name, address, subject.strip(), text, operator_id=ctx.operator.id
        )
    except WriteRefused as exc:
        raise CommandError(str(exc)) from None


def sent_line(started: Started, what: str) -> str:
    """One line for the operator: queued, to whom, and the note (a template instead, say)."""
    new = " (new client)" if started.client_created else ""
    note = f" Note: {started.note}." if started.note else ""
    return (
        f"{what} to {started.recipient} queued: client #{started.client_id}{new}; "
        f"the dialog shows when it is sent.{note}"
    )


def _planned(
    ctx: CommandContext, plan: BulkPlan, kind: str, state: dict[str, Any], what: str
) -> Planned:
    if plan.count == 0:
        return Planned(0, "No clients to act on: nothing to do.", None)
    warning = " This cannot be undone." if plan.needs_confirmation else ""
    token = tokens.put(ctx.operator.id, kind, state)
    return Planned(plan.count, f"{what} — {plan.count:,} clients.{warning} Confirm?", token)


def plan_readall(ctx: CommandContext) -> Planned:
    """F3: how many unread dialogs in the operator's scope "mark all read" would clear (the
    count of ``/readall``'s plan narrowed to the unanswered; running it is ``/readall``'s)."""
    unread = plan_bulk("read", None, parse(ctx, "unanswered"), ctx.operator)
    return _planned(ctx, unread, READALL_TOKEN_KIND, {}, "Mark read")


def plan_purge(ctx: CommandContext) -> Planned:
    """F8: how many blocked or unsubscribed clients in scope the purge would delete."""
    state: dict[str, Any] = {"purge": True}
    what = "Delete every blocked or unsubscribed client"
    return _planned(ctx, plan_of(ctx, state), BULK_TOKEN_KIND, state, what)


def confirm(ctx: CommandContext, kind: str, token: str) -> str:
    """Run the plan behind ``token`` once (capability and scope checked again); one line."""
    state = tokens.take_confirmation(ctx, token, kind)
    plan = plan_read_all(ctx.operator) if kind == READALL_TOKEN_KIND else plan_of(ctx, state)
    try:
        result = run_bulk(plan, confirmed=True)
    except ActionError as exc:
        raise CommandError(str(exc)) from None
    if kind == READALL_TOKEN_KIND:
        return f"Marked {result.changed:,} dialogs read."
    return f"Deleted {result.count:,} blocked or unsubscribed clients."


def cancel(ctx: CommandContext, kind: str, token: str) -> None:
    tokens.take(token, ctx.operator.id, kind)


@dataclass(frozen=True, slots=True)
class Preview:
    fields: list[tuple[str, str, bool]]  # key, label, shown
    variables: list[str]


def preview(ctx: CommandContext) -> Preview:
    """F6: what the list's cards show for this operator (``/preview``'s settings)."""
    pref = preferences_of(ctx.operator.id)
    shown = set(pref.preview_fields)
    fields = [(key, label, key in shown) for key, label in PREVIEW_FIELDS.items()]
    return Preview(fields, list(pref.preview_variables))


def set_preview(ctx: CommandContext, fields: list[str], variables: list[str]) -> Preview:
    """Replace the operator's preview fields and variables; nothing written on a bad name."""
    unknown = [f for f in fields if f not in PREVIEW_FIELDS]
    if unknown:
        raise CommandError(
            f"unknown preview field {unknown[0]!r} (fields: {', '.join(PREVIEW_FIELDS)})"
        )
    names = list(dict.fromkeys(v.strip() for v in variables if v.strip()))
    if len(names) > MAX_PREVIEW_VARIABLES:
        raise CommandError(f"at most {MAX_PREVIEW_VARIABLES} variables")
    ordered = [key for key in PREVIEW_FIELDS if key in fields]
    pref = preferences_of(ctx.operator.id)
    OperatorPreference.update(preview_fields=ordered, preview_variables=names).where(
        OperatorPreference.id == pref.id
    ).execute()
    return preview(ctx)
