"""/assign, /autoassign and /shift: who answers which client."""

from __future__ import annotations

from commands.admin.args import split_args
from commands.admin.context import CommandContext, CommandError
from commands.admin.registry import ADMIN_COMMANDS
from commands.admin.reply import Reply
from store.assignment import assign, autoassign_enabled, set_autoassign, set_on_shift
from store.models import AuditLog, Client, Operator


def client_for(ctx: CommandContext, word: str, *, viewing: bool = False) -> Client:
    """The client with internal id ``word`` if the operator may act on it (admins: any;
    operators: their own and free clients) or, ``viewing``, look at it (also other
    operators' clients, with the ``view_others`` capability)."""
    if not word.isdigit():
        raise CommandError(f"{word!r} is not a client id (a number, as /clients shows).")
    client = Client.get_or_none(Client.id == int(word))
    if client is None and ctx.is_admin:
        raise CommandError(f"No client {word}.")  # an admin's scope is every client
    if client is not None and viewing and may_view(ctx, client):
        return client
    if client is None or not may_act(ctx, client):
        raise CommandError(f"No client {word} among yours.")
    return client


def may_act(ctx: CommandContext, client: Client) -> bool:
    """Whether the operator may change or write to ``client``: an admin any, an operator their
    own and free ones."""
    return ctx.is_admin or client.responsible_id in (None, ctx.operator.id)


def may_view(ctx: CommandContext, client: Client) -> bool:
    """Whether the operator may look at ``client`` (read-only when not ``may_act``)."""
    return may_act(ctx, client) or ctx.can("view_others")


def operator_named(ctx: CommandContext, word: str) -> Operator | None:
    """``me``, ``none`` (None), a Telegram id, or an operator's name (case-insensitive)."""
    lowered = word.lower()
    if lowered == "me":
        return ctx.operator
    if lowered == "none":
        return None
    active = Operator.select().where(Operator.active == True)  # noqa: E712
    for op in active:
        if str(op.telegram_id) == word or op.name.lower() == lowered:
            return op
    names = ", ".join(op.name for op in active)
    raise CommandError(f"No operator {word!r}. Operators: {names}; or me, none.")


@ADMIN_COMMANDS.command(
    "assign", "/assign CLIENT_ID OPERATOR|me|none", "Make an operator responsible for a client."
)
def assign_command(ctx: CommandContext, args: str) -> Reply:
    words = split_args(args)
    if len(words) < 2:
        raise CommandError("Give the client id and the operator (or me, none).")
    client = client_for(ctx, words[0])
    target = operator_named(ctx, " ".join(words[1:]))
    if not ctx.is_admin and target is not None and target.id != ctx.operator.id:
        raise CommandError("Operators can take clients for themselves or free them, not give them.")
    assign([client.id], target.id if target else None)
    AuditLog.create(
        operator=ctx.operator.id,
        action="assign",
        filter_text=f"client {client.id}",
        count=1,
        detail={"to": target.telegram_id if target else None},
    )
    who = "nobody" if target is None else ("you" if target.id == ctx.operator.id else target.name)
    return Reply(f"Client {client.id} ({client.name}) is now bound to {who}.")


@ADMIN_COMMANDS.command(
    "autoassign",
    "/autoassign [on|off]",
    "Give each new client to the next operator on shift, in turn.",
    capability="manage_operators",
)
def autoassign_command(ctx: CommandContext, args: str) -> Reply:
    word = _on_off(args)
    if word:
        set_autoassign(word == "on")
    on_shift = Operator.select().where(
        (Operator.active == True) & (Operator.on_shift == True)  # noqa: E712
    )
    names = ", ".join(op.name for op in on_shift) or "nobody (new clients stay free)"
    state = "on" if autoassign_enabled() else "off"
    return Reply(f"Automatic distribution is {state}. On shift: {names}.")


@ADMIN_COMMANDS.command("shift", "/shift [on|off]", "Start or end your shift (auto-assignment).")
def shift_command(ctx: CommandContext, args: str) -> Reply:
    word = _on_off(args)
    if word:
        set_on_shift(ctx.operator.id, word == "on")
    on = Operator.get_by_id(ctx.operator.id).on_shift
    return Reply("You are on shift." if on else "You are off shift.")


def _on_off(args: str) -> str:
    """``on``, ``off`` or empty (no argument); ``CommandError`` for anything else."""
    given = split_args(args)
    word = given[0].lower() if len(given) == 1 else " ".join(given)
    if word not in ("on", "off", ""):
        raise CommandError(f"Say on or off, not {args.strip()!r}.")
    return word
