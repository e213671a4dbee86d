"""What the Mini App does with the client list's selection (F9, F12, F13): bulk actions after a
count and a confirmation, export, saved filters.

A selection is the list's filter and tab plus either "all matching" or the ids picked by hand;
it becomes one filter text exactly as the admin bot's selection does
(``commands.admin.clients.selection_text``: ``client:ID,...`` for picked ids), so "select all
N matching" sends the filter, never a million ids. Bulk actions follow the admin bot's rule
(``commands.admin.bulk``): ``plan`` checks the capability of the action
(``store.permissions.bulk_capability``), counts the clients in the acting scope and stores the
plan behind a one-use token, writing nothing else; ``confirm`` takes the token (a second press
finds nothing), checks the capability again and runs ``store.clients.bulk.run_bulk``. Nothing
runs without a plan's token: that is the confirmation. Export is the admin bot's ``/export``
(``commands.admin.outreach.export_command``): the same file, delivered to the operator's chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from commands.admin import tokens
from commands.admin.bulk import plan_of
from commands.admin.clients import MAX_PICKED, parse, selection_text
from commands.admin.context import CommandContext, CommandError
from commands.admin.outreach import export_command
from commands.admin.reply import Reply
from commands.app.client_list import check_tab
from store.clients.bulk import ACTIONS, ActionError, run_bulk
from store.clients.query import count_clients
from store.clients.saved import delete_saved, list_saved, save_filter
from store.errors import StoreError
from store.permissions import bulk_capability

TOKEN_KIND: Final = "bulk"  # noqa: S105 (a token kind, no secret); the admin bot's kind: one rule for a stored confirmation


@dataclass(frozen=True, slots=True)
class Selection:
    """The clients chosen in the list: every one matching ``text`` in ``tab`` when ``all``,
    else the ``ids`` picked by hand (within that filter and tab)."""

    text: str = ""
    tab: str = "all"
    all: bool = False
    ids: tuple[int, ...] = ()

    def as_filter(self) -> str:
        check_tab(self.tab)
        if not self.all and not self.ids:
            raise CommandError("choose some clients first")
        if len(self.ids) > MAX_PICKED:
            raise CommandError(f"at most {MAX_PICKED} picked by hand; use select all matching")
        state = {"f": self.text, "tab": self.tab, "all": self.all, "ids": list(self.ids)}
        return selection_text(state)


@dataclass(frozen=True, slots=True)
class ActionInfo:
    name: str
    argument: str | None  # "lists", "labels", "operator" or None
    help: str
    destructive: bool


@dataclass(frozen=True, slots=True)
class BulkPlanView:
    """A planned action: how many clients it touches, the question to confirm and the
    one-use ``token`` that runs it (None when there is nothing to do)."""

    action: str
    argument: str | None
    count: int
    question: str
    destructive: bool
    token: str | None


@dataclass(frozen=True, slots=True)
class BulkDone:
    action: str
    count: int
    changed: int
    message: str


def _clients(n: int) -> str:
    return f"{n:,} client" + ("" if n == 1 else "s")


def allowed_actions(ctx: CommandContext) -> list[ActionInfo]:
    """The bulk actions of F9 this operator may take, in the admin bot's order."""
    return [
        ActionInfo(spec.name, spec.argument, spec.help, spec.destructive)
        for spec in ACTIONS.values()
        if ctx.can(bulk_capability(spec.name))
    ]


def selection_count(ctx: CommandContext, selection: Selection) -> int:
    """How many chosen clients this operator may act on (exact)."""
    return count_clients(parse(ctx, selection.as_filter()), ctx.operator)


def plan(
    ctx: CommandContext, action: str, argument: str | None, selection: Selection
) -> BulkPlanView:
    """Count what ``action`` would touch and keep the plan behind a token; nothing else is
    written. Refused (403) without the action's capability, 400 for a bad action/argument."""
    if action not in ACTIONS:
        raise CommandError(f"unknown bulk action {action!r}")
    state: dict[str, Any] = {"action": action, "arg": argument, "f": selection.as_filter()}
    checked = plan_of(ctx, state)  # capability, filter, argument: the admin bot's checks
    what = action + (f" {checked.argument}" if checked.argument else "")
    if checked.count == 0:
        return BulkPlanView(action, checked.argument, 0, "No clients to act on.", False, None)
    warning = " This cannot be undone." if checked.needs_confirmation else ""
    # The list may show other operators' clients (view_others); actions never touch them.
    mine = " (yours and free ones only)" if not ctx.is_admin and ctx.can("view_others") else ""
    question = f"{what} — {_clients(checked.count)}{mine}.{warning} Confirm?"
    token = tokens.put(ctx.operator.id, TOKEN_KIND, state)
    return BulkPlanView(
        action, checked.argument, checked.count, question, checked.needs_confirmation, token
    )


def confirm(ctx: CommandContext, token: str) -> BulkDone:
    """Run the plan behind ``token`` once; a used, cancelled or expired token is refused."""
    state = tokens.take_confirmation(ctx, token, TOKEN_KIND)
    checked = plan_of(ctx, state)
    try:
        result = run_bulk(checked, confirmed=True)
    except ActionError as exc:
        raise CommandError(str(exc)) from None
    changed = f" ({result.changed:,} changed)" if result.changed != result.count else ""
    message = f"Done: {result.action} on {_clients(result.count)}{changed}."
    return BulkDone(result.action, result.count, result.changed, message)


def cancel(ctx: CommandContext, token: str) -> None:
    """Drop a plan's token: it can no longer run."""
    tokens.take(token, ctx.operator.id, TOKEN_KIND)


def export_reply(ctx: CommandContext, kind: str, selection: Selection) -> Reply:
    """The admin bot's ``/export`` answer (a file) for the selection: the caller delivers it."""
    return export_command(ctx, f"{kind} {selection.as_filter()}")


@dataclass(frozen=True, slots=True)
class Saved:
    name: str
    text: str


def saved_filters(ctx: CommandContext) -> list[Saved]:
    return [Saved(row.name, row.query) for row in list_saved(ctx.operator)]


def save(ctx: CommandContext, name: str, text: str) -> bool:
    """Save ``text`` as ``name`` (True: it replaced one); one line for a bad name or text."""
    try:
        return save_filter(ctx.operator, name, text, ctx.settings.zone)
    except StoreError as exc:  # FilterError, ActionError
        raise CommandError(str(exc)) from None


def delete(ctx: CommandContext, name: str) -> None:
    try:
        delete_saved(ctx.operator, name)
    except StoreError as exc:
        raise CommandError(str(exc)) from None
