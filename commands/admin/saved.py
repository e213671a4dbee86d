"""/filters (save, list, delete, help) with saved filters as buttons (F12), and /unread (F15)."""

from __future__ import annotations

from commands.admin.args import head_and_rest, split_args
from commands.admin.clients import clients_command
from commands.admin.context import CommandContext, CommandError
from commands.admin.registry import ADMIN_COMMANDS
from commands.admin.reply import Button, Reply
from store.clients.bulk import ActionError
from store.clients.saved import delete_saved, list_saved, save_filter
from store.clients.unread import unread_count
from store.filters import FilterError, help_text
from store.models import SavedFilter


def saved_buttons(ctx: CommandContext) -> list[list[Button]]:
    """The operator's saved filters as buttons (``fs:<id>`` opens /clients with it), 2 a row."""
    found = [Button(f"🔎 {s.name}"[:40], data=f"fs:{s.id}") for s in list_saved(ctx.operator)]
    return [found[i : i + 2] for i in range(0, len(found), 2)]


@ADMIN_COMMANDS.command(
    "filters",
    "/filters save NAME FILTER... | list | delete NAME | help",
    "Save a filter under a name and reuse it (saved:NAME, or its button); the filter syntax.",
)
def filters_command(ctx: CommandContext, args: str) -> Reply:
    head, rest = head_and_rest(args, 1)
    action = head[0].lower() if head else ""
    if action in ("", "list"):
        rows = saved_buttons(ctx)
        if not rows:
            return Reply("No saved filters yet: /filters save NAME FILTER...")
        lines = ["Your saved filters (tap one to list its clients):"]
        lines += [f"{s.name}: {s.query}" for s in list_saved(ctx.operator)]
        return Reply("\n".join(lines), rows)
    if action == "help":
        return Reply(help_text())
    if action == "save":
        names, text = head_and_rest(rest, 1)
        name = names[0] if names else ""
        if not name or not text.strip():
            raise CommandError("Give a name and the filter to save under it.")
        try:
            replaced = save_filter(ctx.operator, name, text, ctx.settings.zone)
        except (FilterError, ActionError) as exc:
            raise CommandError(str(exc)) from None
        verb = "Replaced" if replaced else "Saved"
        text = f"{verb} {name!r}: {text.strip()}. Use it as saved:{name}."
        return Reply(text, saved_buttons(ctx))
    if action == "delete":
        words = split_args(rest)
        if len(words) != 1:
            raise CommandError("Give the name of the saved filter to delete.")
        try:
            delete_saved(ctx.operator, words[0])
        except ActionError as exc:
            raise CommandError(str(exc)) from None
        return Reply(f"Deleted the saved filter {words[0]!r}.")
    raise CommandError(f"Unknown action {action!r}: use save, list, delete or help.")


@ADMIN_COMMANDS.button("fs")
def saved_button(ctx: CommandContext, payload: str) -> Reply:
    row = SavedFilter.get_or_none(
        (SavedFilter.id == int(payload) if payload.isdigit() else SavedFilter.id == -1)
        & (SavedFilter.operator == ctx.operator.id)
    )
    if row is None:
        raise CommandError("That saved filter no longer exists.")
    return clients_command(ctx, row.query)


@ADMIN_COMMANDS.command("unread", "/unread", "How many dialogs wait for your answer.")
def unread_command(ctx: CommandContext, args: str) -> Reply:
    if args:
        raise CommandError("/unread takes no arguments.")
    count = unread_count(ctx.operator)
    whose = "in the project" if ctx.is_admin else "among your clients"
    if not count:
        return Reply(f"No unread dialogs {whose}.")
    return Reply(f"{count} unread dialogs {whose}.", [[Button("Show them", data="un:")]])


@ADMIN_COMMANDS.button("un")
def unread_button(ctx: CommandContext, payload: str) -> Reply:
    return clients_command(ctx, "unanswered" if ctx.is_admin else "unanswered tab:mine")
