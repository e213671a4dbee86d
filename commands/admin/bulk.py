"""/bulk, the selection's actions from /clients, /readall and /purge_unsubscribed (F3, F8, F9).

Every bulk action shows its count and waits for Confirm (``bk:<token>:y``) or Cancel
(``bk:<token>:n``); the token keeps the action, its argument and the selection server-side.
Planning, the set-based statements, scope and the audit row are ``store.clients.bulk``'s.
A confirmation is good for one press: a double tap never runs an action twice. Each action
checks its own capability (``store.permissions.bulk_capability``: delete needs ``delete``,
the rest ``bulk``; the purge ``purge``) when asked and again when confirmed.
"""

from __future__ import annotations

from typing import Any

from commands.admin import pending, tokens
from commands.admin.clients import parse, selection_text
from commands.admin.context import CommandContext, CommandError, Refused
from commands.admin.registry import ADMIN_COMMANDS, refusal
from commands.admin.reply import Button, Reply
from store.clients.bulk import (
    ACTIONS,
    ActionError,
    BulkPlan,
    plan_bulk,
    plan_purge_unsubscribed,
    plan_read_all,
    run_bulk,
)
from store.filters import FilterError
from store.filters.syntax import tokenize
from store.permissions import bulk_capability

PROMPTS = {
    "lists": "Send the list names, separated by commas",
    "labels": "Send the labels, separated by commas",
    "operator": "Send the operator (name, Telegram id, me or none)",
}


def require_capability(ctx: CommandContext, state: dict[str, Any]) -> None:
    """Refuse (one line) unless the operator holds the capability of ``state``'s action."""
    needed = "purge" if state.get("purge") else bulk_capability(state["action"])
    if not ctx.can(needed):
        what = "/purge_unsubscribed" if state.get("purge") else f"the bulk action {state['action']}"
        raise Refused(refusal(what, needed))


def plan_of(ctx: CommandContext, state: dict[str, Any]) -> BulkPlan:
    """The plan of a stored confirmation: the action on the clients of its filter text
    (the Mini App's bulk actions take the same path, ``commands.app.client_actions``)."""
    require_capability(ctx, state)
    if state.get("purge"):
        return plan_purge_unsubscribed(ctx.operator)
    flt = parse(ctx, state["f"])
    try:
        return plan_bulk(state["action"], state.get("arg"), flt, ctx.operator)
    except ActionError as exc:
        raise CommandError(str(exc)) from None


def confirmation(ctx: CommandContext, state: dict[str, Any]) -> Reply:
    """Count what the action would touch and ask; nothing is written but the token."""
    plan = plan_of(ctx, state)
    if plan.count == 0:
        return Reply("No clients to act on: nothing to do.")
    token = tokens.put(ctx.operator.id, "bulk", state)
    what = state.get("action", "")
    if state.get("purge"):
        what = "delete every blocked or unsubscribed client"
    elif state.get("arg"):
        what += f" {state['arg']}"
    warning = "\nThis cannot be undone." if plan.needs_confirmation else ""
    return Reply(
        f"{what} — {plan.count} clients.{warning} Confirm?",
        [[Button("✅ Confirm", data=f"bk:{token}:y"), Button("Cancel", data=f"bk:{token}:n")]],
    )


@ADMIN_COMMANDS.button("bk")
def bulk_button(ctx: CommandContext, payload: str) -> Reply:
    token, _, answer = payload.partition(":")
    state = tokens.take_confirmation(ctx, token, "bulk")  # Confirm or Cancel, once
    if answer != "y":
        return Reply("Cancelled: nothing was changed.", edit=True)
    plan = plan_of(ctx, state)
    try:
        result = run_bulk(plan, confirmed=True)
    except ActionError as exc:
        raise CommandError(str(exc)) from None
    changed = f" ({result.changed} changed)" if result.changed != result.count else ""
    return Reply(f"Done: {result.action} on {result.count} clients{changed}.", edit=True)


def _action_lines() -> str:
    return "\n".join(f"  {name} — {spec.help}" for name, spec in ACTIONS.items())


@ADMIN_COMMANDS.command(
    "bulk",
    "/bulk ACTION [ARG] FILTER...",
    "Act on every client matching FILTER after a count and Confirm; /bulk lists actions.",
    capability="bulk",
)
def bulk_command(ctx: CommandContext, args: str) -> Reply:
    try:
        terms = tokenize(args)
    except FilterError as exc:
        raise CommandError(str(exc)) from None
    if not terms:  # not a mistake: the way to see what /bulk can do
        return Reply(f"/bulk ACTION [ARG] FILTER... Actions:\n{_action_lines()}")
    action = terms[0].token.lower()
    spec = ACTIONS.get(action)
    if spec is None:
        raise CommandError(f"Unknown action {terms[0].token!r}. Actions:\n{_action_lines()}")
    rest = terms[1:]
    arg = None
    if spec.argument is not None:
        if not rest:
            raise CommandError(f"{action} needs an argument: {spec.help}.")
        arg, rest = rest[0].token, rest[1:]
    filter_text = " ".join(t.token for t in rest)
    if not filter_text:
        raise CommandError("Give a filter (tab:all for every client you may act on).")
    return confirmation(ctx, {"action": action, "arg": arg, "f": filter_text})


def selection_menu(ctx: CommandContext, list_token: str, state: dict[str, Any]) -> Reply:
    """The actions for the clients chosen in a /clients list (``bs:<list token>:<action>``)."""
    if not state.get("all") and not state.get("ids"):
        raise CommandError("Choose some clients first.")
    rows: list[list[Button]] = []
    names = [name for name in ACTIONS if ctx.can(bulk_capability(name))]
    for i in range(0, len(names), 3):
        rows.append([Button(n, data=f"bs:{list_token}:{n}") for n in names[i : i + 3]])
    return Reply("What to do with the chosen clients?", rows)


@ADMIN_COMMANDS.button("bs", capability="bulk")
def selection_button(ctx: CommandContext, payload: str) -> Reply:
    from commands.admin.clients import list_state

    list_token, _, action = payload.partition(":")
    state = list_state(ctx, list_token)
    spec = ACTIONS.get(action)
    if spec is None:
        raise CommandError("Unknown action.")
    chosen = {"action": action, "f": selection_text(state)}
    if spec.argument is None:
        return confirmation(ctx, chosen)
    pending.wait_for(ctx.operator.id, "bulk_arg", chosen)
    return Reply(f"{PROMPTS[spec.argument]} for {action}, or /cancel.")


@ADMIN_COMMANDS.awaiting("bulk_arg")
def bulk_argument(ctx: CommandContext, text: str, data: dict[str, Any]) -> Reply:
    reply = confirmation(ctx, {**data, "arg": text.strip()})
    pending.clear(ctx.operator.id)
    return reply


@ADMIN_COMMANDS.command("readall", "/readall", "Mark every dialog you may see as read.")
def readall_command(ctx: CommandContext, args: str) -> Reply:
    if args:
        raise CommandError("/readall takes no arguments.")
    result = run_bulk(plan_read_all(ctx.operator))
    return Reply(f"Marked {result.changed} dialogs read.")


@ADMIN_COMMANDS.command(
    "purge_unsubscribed",
    "/purge_unsubscribed",
    "Delete every client who blocked the bot or whom we blocked, after Confirm.",
    capability="purge",
)
def purge_command(ctx: CommandContext, args: str) -> Reply:
    if args:
        raise CommandError("/purge_unsubscribed takes no arguments.")
    return confirmation(ctx, {"purge": True})
