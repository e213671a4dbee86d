"""Commands and button handlers of the admin bot, declared once, dispatched from any front end.

A command is a function ``(ctx, args) -> Reply`` registered under ``/name``; a button handler is
``(ctx, payload) -> Reply`` registered under a short callback prefix (``cl`` in ``cl:p:2``); an
input handler ``(ctx, text, data) -> Reply`` takes the plain message a command asked for
(``commands.admin.pending``). A command or button may declare the capability it needs
(``store.permissions``); the dispatcher refuses it here, in one place, with one polite line.
Handlers are synchronous (the store is); the Telegram front end runs them in a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from commands.admin import pending
from commands.admin.context import CommandContext, CommandError, Refused
from commands.admin.reply import Reply
from config import CAPABILITIES
from store.permissions import refusal

CommandHandler = Callable[[CommandContext, str], Reply]
ButtonHandler = Callable[[CommandContext, str], Reply]
InputHandler = Callable[[CommandContext, str, dict[str, Any]], Reply]


@dataclass(frozen=True, slots=True)
class AdminCommand:
    name: str
    usage: str
    help: str
    handler: CommandHandler
    capability: str | None = None
    """What the command needs (``config.CAPABILITIES``); None: everyone may use it."""


class CommandSet:
    """Every ``/command`` and button prefix; ``handle_text`` and ``handle_button`` dispatch."""

    def __init__(self) -> None:
        self.commands: dict[str, AdminCommand] = {}
        self.buttons: dict[str, ButtonHandler] = {}
        self.button_capabilities: dict[str, str] = {}
        self.inputs: dict[str, InputHandler] = {}
        self.input_capabilities: dict[str, str] = {}

    def command(
        self, name: str, usage: str, help: str, *, capability: str | None = None
    ) -> Callable[[CommandHandler], CommandHandler]:
        def register(fn: CommandHandler) -> CommandHandler:
            if name in self.commands:
                raise ValueError(f"command /{name} registered twice")
            self.commands[name] = AdminCommand(name, usage, help, fn, _known(capability))
            return fn

        return register

    def button(
        self, prefix: str, *, capability: str | None = None
    ) -> Callable[[ButtonHandler], ButtonHandler]:
        def register(fn: ButtonHandler) -> ButtonHandler:
            if prefix in self.buttons or ":" in prefix:
                raise ValueError(f"bad or duplicate button prefix {prefix!r}")
            self.buttons[prefix] = fn
            if _known(capability) is not None:
                self.button_capabilities[prefix] = str(capability)
            return fn

        return register

    def awaiting(
        self, kind: str, *, capability: str | None = None
    ) -> Callable[[InputHandler], InputHandler]:
        """Register the handler of the plain message a command asked for with
        ``pending.wait_for(operator_id, kind, data)``."""

        def register(fn: InputHandler) -> InputHandler:
            if kind in self.inputs:
                raise ValueError(f"input kind {kind!r} registered twice")
            self.inputs[kind] = fn
            if _known(capability) is not None:
                self.input_capabilities[kind] = str(capability)
            return fn

        return register

    def visible_to(self, ctx: CommandContext) -> list[AdminCommand]:
        """The commands ``ctx``'s operator may use (their capabilities allow them)."""
        allowed = ctx.capabilities
        return [c for c in self.commands.values() if c.capability in (None, *allowed)]

    def handle_text(self, ctx: CommandContext, text: str) -> Reply:
        """Run the command in ``text`` (``/name args``); errors become a helpful reply."""
        text = text.strip()
        if not text.startswith("/"):
            return self._handle_input(ctx, text)
        head, args = [*text.split(maxsplit=1), ""][:2]  # any whitespace ends the name
        name = head[1:].split("@", 1)[0].lower()  # "/clients@ShopAdminBot" in groups
        command = self.commands.get(name)
        if command is None:
            return Reply(f"Unknown command /{name}. Send /help for the list.", error=True)
        if command.capability is not None and not ctx.can(command.capability):
            return Reply(refusal(f"/{name}", command.capability), error=True)
        # A new command abandons a prompt left open, so it cannot swallow a later message.
        if name != "cancel":
            pending.clear(ctx.operator.id)
        try:
            return command.handler(ctx, args.strip())
        except Refused as exc:
            return Reply(str(exc), error=True)
        except CommandError as exc:
            return Reply(f"{exc}\nUsage: {command.usage}", error=True)

    def _handle_input(self, ctx: CommandContext, text: str) -> Reply:
        waiting = pending.current(ctx.operator.id)
        handler = self.inputs.get(waiting.kind) if waiting is not None else None
        if waiting is None or handler is None:
            return Reply("Send a command, for example /clients or /help.")
        needed = self.input_capabilities.get(waiting.kind)
        if needed is not None and not ctx.can(needed):
            pending.clear(ctx.operator.id)  # revoked while the prompt was open
            return Reply(refusal("This", needed), error=True)
        try:
            return handler(ctx, text, waiting.data)
        except Refused as exc:
            pending.clear(ctx.operator.id)
            return Reply(str(exc), error=True)
        except CommandError as exc:
            # The prompt stays open: the operator may send a better answer or /cancel.
            return Reply(f"{exc}\nSend it again, or /cancel.", error=True)

    def handle_button(self, ctx: CommandContext, data: str) -> Reply:
        prefix, _, payload = data.partition(":")
        handler = self.buttons.get(prefix)
        if handler is None:
            return Reply("This button is no longer valid.", notice="expired", error=True)
        needed = self.button_capabilities.get(prefix)
        if needed is not None and not ctx.can(needed):
            text = refusal("This button", needed)
            return Reply(text, notice=text[:190], error=True)
        try:
            return handler(ctx, payload)
        except CommandError as exc:
            return Reply(str(exc), notice=str(exc)[:190], error=True)


def _known(capability: str | None) -> str | None:
    if capability is not None and capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")
    return capability


ADMIN_COMMANDS = CommandSet()
