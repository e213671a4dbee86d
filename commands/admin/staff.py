"""/start, /help and /operators (staff and their capabilities; ``manage_operators``)."""

from __future__ import annotations

import peewee

from commands.admin.args import split_args
from commands.admin.context import CommandContext, CommandError
from commands.admin.registry import ADMIN_COMMANDS
from commands.admin.reply import Reply
from config import CAPABILITIES
from store.clients.unread import free_unread_of
from store.db import write_transaction
from store.models import AuditLog, Client, Operator
from store.permissions import UnknownCapability, check_capability, overrides_of, set_override


@ADMIN_COMMANDS.command("start", "/start", "Greeting and the list of commands.")
def start(ctx: CommandContext, args: str) -> Reply:
    return help_command(ctx, args)


@ADMIN_COMMANDS.command("help", "/help", "Every command you can use, with its arguments.")
def help_command(ctx: CommandContext, args: str) -> Reply:
    lines = [f"Hello, {ctx.operator.name} ({ctx.operator.role}). Commands:"]
    for command in ADMIN_COMMANDS.visible_to(ctx):
        lines.append(f"{command.usage} — {command.help}")
    lines.append("Filters: send /filters help for the filter syntax.")
    return Reply("\n".join(lines))


@ADMIN_COMMANDS.command(
    "operators",
    "/operators [add TELEGRAM_ID admin|operator NAME | remove TELEGRAM_ID "
    "| grant|revoke TELEGRAM_ID CAPABILITY]",
    "List, add or remove staff; grant or revoke one operator's capability.",
    capability="manage_operators",
)
def operators(ctx: CommandContext, args: str) -> Reply:
    words = split_args(args)
    if not words:
        rows = Operator.select().where(Operator.active == True).order_by(Operator.id)  # noqa: E712
        lines = ["Operators:"]
        for op in rows:
            shift = ", on shift" if op.on_shift else ""
            lines.append(f"{op.telegram_id} — {op.name} ({op.role}{shift}){_changes(op)}")
        lines.append(f"Capabilities: {', '.join(CAPABILITIES)}.")
        return Reply("\n".join(lines))
    action = words[0].lower()
    if action in ("grant", "revoke"):
        return _grant(ctx, words, granted=action == "grant")
    if action == "add":
        if len(words) < 4:
            raise CommandError("Give the Telegram id, the role and the name.")
        telegram_id = _telegram_id(words[1])
        role = words[2].lower()
        if role not in ("admin", "operator"):
            raise CommandError(f"Role must be admin or operator, not {words[2]!r}.")
        name = " ".join(words[3:])
        with write_transaction():
            existing = Operator.get_or_none(Operator.telegram_id == telegram_id)
            if existing is not None and existing.active:
                raise CommandError(f"{telegram_id} is already an operator ({existing.name}).")
            if existing is not None:
                Operator.update(active=True, role=role, name=name).where(
                    Operator.id == existing.id
                ).execute()
            else:
                try:
                    Operator.create(telegram_id=telegram_id, role=role, name=name)
                except peewee.IntegrityError:
                    raise CommandError(f"{telegram_id} is already an operator.") from None
        return Reply(f"Added {name} ({role}), Telegram id {telegram_id}.")
    if action == "remove":
        if len(words) != 2:
            raise CommandError("Give the Telegram id of the operator to remove.")
        telegram_id = _telegram_id(words[1])
        if telegram_id == ctx.operator.telegram_id:
            raise CommandError("You cannot remove yourself.")
        with write_transaction():
            target = Operator.get_or_none(
                (Operator.telegram_id == telegram_id) & (Operator.active == True)  # noqa: E712
            )
            if target is None:
                raise CommandError(f"No operator with Telegram id {telegram_id}.")
            Operator.update(active=False, on_shift=False).where(Operator.id == target.id).execute()
            freed = Client.update(responsible=None).where(Client.responsible == target.id).execute()
            free_unread_of(target.id)
        return Reply(f"Removed {target.name}; {freed} of their clients are free now.")
    raise CommandError(f"Unknown action {words[0]!r}: use add, remove, grant or revoke.")


def _changes(op: Operator) -> str:
    """`` — may also: export; may not: reply`` for an operator's overrides, else ``""``."""
    overrides = overrides_of(op.id)
    extra = sorted(c for c, granted in overrides.items() if granted)
    less = sorted(c for c, granted in overrides.items() if not granted)
    parts = ([f"may also: {', '.join(extra)}"] if extra else []) + (
        [f"may not: {', '.join(less)}"] if less else []
    )
    return f" — {'; '.join(parts)}" if parts else ""


def _grant(ctx: CommandContext, words: list[str], *, granted: bool) -> Reply:
    if len(words) != 3:
        raise CommandError("Give the Telegram id and the capability.")
    telegram_id = _telegram_id(words[1])
    try:
        capability = check_capability(words[2])
    except UnknownCapability as exc:
        raise CommandError(str(exc)) from None
    if not granted and capability == "manage_operators" and telegram_id == ctx.operator.telegram_id:
        raise CommandError("You cannot take managing operators from yourself.")
    with write_transaction():
        target = Operator.get_or_none(
            (Operator.telegram_id == telegram_id) & (Operator.active == True)  # noqa: E712
        )
        if target is None:
            raise CommandError(f"No operator with Telegram id {telegram_id}.")
        set_override(target, capability, granted, ctx.settings.permissions)
        AuditLog.create(
            operator=ctx.operator.id,
            action="grant" if granted else "revoke",
            detail={"operator": telegram_id, "capability": capability},
        )
    verb = "may now" if granted else "may no longer"
    return Reply(f"{target.name} {verb} use {capability!r}.")


def _telegram_id(word: str) -> int:
    if not word.isdigit() or int(word) <= 0:
        raise CommandError(f"{word!r} is not a Telegram user id (a positive number).")
    return int(word)
