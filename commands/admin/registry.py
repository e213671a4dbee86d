"""Commands and button handlers of the admin bot, declared once, dispatched from any front end.

A command is a function ``(ctx, args) -> Reply`` registered under ``/name``; a button handler is
``(ctx, payload) -> Reply`` registered under a short callback prefix (``cl`` in ``cl:p:2``).
Handlers are synchronous (the store is); the Telegram front end runs them in a thread.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from commands.admin.context import CommandContext, CommandError
from commands.admin.reply import Reply

CommandHandler = Callable[[CommandContext, str], Reply]
ButtonHandler = Callable[[CommandContext, str], Reply]


@dataclass(frozen=True, slots=True)
class AdminCommand:
    name: str
    usage: str
    help: str
    handler: CommandHandler
    admin_only: bool = False


class CommandSet:
    """Every ``/command`` and button prefix; ``handle_text`` and ``handle_button`` dispatch."""

    def __init__(self) -> None:
        self.commands: dict[str, AdminCommand] = {}
        self.buttons: dict[str, ButtonHandler] = {}

    def command(
        self, name: str, usage: str, help: str, *, admin_only: bool = False
    ) -> Callable[[CommandHandler], CommandHandler]:
        def register(fn: CommandHandler) -> CommandHandler:
            if name in self.commands:
                raise ValueError(f"command /{name} registered twice")
            self.commands[name] = AdminCommand(name, usage, help, fn, admin_only)
            return fn

        return register

    def button(self, prefix: str) -> Callable[[ButtonHandler], ButtonHandler]:
        def register(fn: ButtonHandler) -> ButtonHandler:
            if prefix in self.buttons or ":" in prefix:
                raise ValueError(f"bad or duplicate button prefix {prefix!r}")
            self.buttons[prefix] = fn
            return fn

        return register

    def visible_to(self, ctx: CommandContext) -> list[AdminCommand]:
        return [c for c in self.commands.values() if ctx.is_admin or not c.admin_only]

    def handle_text(self, ctx: CommandContext, text: str) -> Reply:
        """Run the command in ``text`` (``/name args``); errors become a helpful reply."""
        text = text.strip()
        if not text.startswith("/"):
            return Reply("Send a command, for example /clients or /help.")
        head, _, args = text.partition(" ")
        name = head[1:].split("@", 1)[0].lower()  # "/clients@ShopAdminBot" in groups
        command = self.commands.get(name)
        if command is None:
            return Reply(f"Unknown command /{name}. Send /help for the list.")
        if command.admin_only and not ctx.is_admin:
            return Reply(f"/{name} is for admins only.")
        try:
            return command.handler(ctx, args.strip())
        except CommandError as exc:
            return Reply(f"{exc}\nUsage: {command.usage}")

    def handle_button(self, ctx: CommandContext, data: str) -> Reply:
        prefix, _, payload = data.partition(":")
        handler = self.buttons.get(prefix)
        if handler is None:
            return Reply("This button is no longer valid.", notice="expired")
        try:
            return handler(ctx, payload)
        except CommandError as exc:
            return Reply(str(exc), notice=str(exc)[:190])


def split_args(args: str) -> list[str]:
    """Split command arguments like a shell does, so quoted values keep their spaces."""
    try:
        return shlex.split(args)
    except ValueError as exc:
        raise CommandError(f"Cannot read the arguments: {exc}.") from None


ADMIN_COMMANDS = CommandSet()
