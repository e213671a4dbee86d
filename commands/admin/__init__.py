"""The admin command set: written once, served by the Telegram admin bot and ``switchboard admin``.

Importing this package registers every command module on ``ADMIN_COMMANDS``.
"""

from __future__ import annotations

from commands.admin import assignment, notify, preferences, progress, staff  # noqa: F401  (registration by import)
from commands.admin.context import CommandContext, CommandError, find_operator
from commands.admin.registry import ADMIN_COMMANDS, CommandSet
from commands.admin.reply import Button, Reply, ReplyFile, render_text

__all__ = [
    "ADMIN_COMMANDS",
    "Button",
    "CommandContext",
    "CommandError",
    "CommandSet",
    "Reply",
    "ReplyFile",
    "find_operator",
    "render_text",
]

# The client-list commands of issue 8, registered by import like the modules above.
# miniapp: the Mini App's entry points (issue 17), /app and the card's "Open in app".
from commands.admin import (  # noqa: F401
    bulk,
    campaigns,
    client,
    clients,
    jobs,
    messaging,
    miniapp,
    outreach,
    saved,
)
