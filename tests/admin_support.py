"""Helpers for admin command tests: staff contexts, running commands, reading buttons."""

from __future__ import annotations

from commands.admin import ADMIN_COMMANDS, CommandContext, Reply, find_operator
from commands.admin.reply import CALLBACK_LIMIT, Button
from config import Settings
from store.setup import bootstrap_operators

ADMIN_ID, OPERATOR_ID, OTHER_ID = 111, 222, 333
MARKS = frozenset("•✅▫☑⬜\ufe0f ")  # state marks in front of a button's text


def make_staff() -> dict[str, CommandContext]:
    """Anna (admin), Boris and Vera (operators), as command contexts by role name."""
    bootstrap_operators(
        [
            (ADMIN_ID, "admin", "Anna", "anna@shop.test"),
            (OPERATOR_ID, "operator", "Boris", "boris@shop.test"),
            (OTHER_ID, "operator", "Vera", "vera@shop.test"),
        ]
    )
    settings = Settings()
    contexts = {}
    for name, tid in (("admin", ADMIN_ID), ("operator", OPERATOR_ID), ("other", OTHER_ID)):
        operator = find_operator(tid)
        assert operator is not None
        contexts[name] = CommandContext(operator=operator, settings=settings)
    return contexts


def buttons(reply: Reply) -> list[Button]:
    return [b for row in reply.buttons for b in row]


def button(reply: Reply, starts: str) -> Button:
    """The one button whose text starts with ``starts`` (after any tick mark)."""
    found = [b for b in buttons(reply) if _bare(b.text).startswith(starts)]
    assert len(found) == 1, [b.text for b in buttons(reply)]
    return found[0]


def _bare(text: str) -> str:
    while text and text[0] in MARKS:
        text = text[1:]
    return text


def press(ctx: CommandContext, reply: Reply, starts: str) -> Reply:
    data = button(reply, starts).data
    assert data is not None and len(data.encode()) <= CALLBACK_LIMIT
    return ADMIN_COMMANDS.handle_button(ctx, data)


def run(ctx: CommandContext, text: str) -> Reply:
    return ADMIN_COMMANDS.handle_text(ctx, text)
