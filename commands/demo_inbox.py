"""``switchboard demo inbox --as 111``: what the staff (admin) bot sent to an operator.

Operator notifications, digests and job progress go to the operator's Telegram chat; in the
demo that chat lives in the Bot API emulator, which serves it read-only at
``/_emulator/chats/{id}/messages`` (``emulators.telegram.inspect``). The command reads it over
HTTP from the ``api_base`` of the configuration's ``admin_bot`` and prints it, newest last,
with each message's buttons and their data (``admin --as 111 --press DATA`` presses one).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click
import httpx

from commands.context import CliContext, fail, pass_context
from commands.demo_platforms import ADMIN_BOT_USERNAME
from store.clock import from_timestamp, shown


def fetch_inbox(api_base: str, chat_id: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """The staff bot's messages to ``chat_id`` from the emulator at ``api_base``, oldest first;
    ``httpx.HTTPError`` when it cannot be read."""
    response = httpx.get(
        f"{api_base.rstrip('/')}/_emulator/chats/{chat_id}/messages",
        params={"bot": ADMIN_BOT_USERNAME},
        timeout=timeout_s,
    )
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def render_inbox(messages: list[dict[str, Any]], zone: dt.tzinfo) -> str:
    """The messages for a person: time in ``zone``, text, then the buttons ``[text → data]``."""
    blocks = []
    for message in messages:
        notes = [f"edited {message['edits']}×"] if message["edits"] else []
        if message["deleted"]:
            notes.append("deleted")
        head = shown(from_timestamp(message["date"]), zone, seconds=True)
        head += f"  #{message['message_id']}" + (f" ({', '.join(notes)})" if notes else "")
        lines = [head, *("  " + line for line in (message["text"] or "").splitlines())]
        buttons = [
            f"[{b['text']} → {b.get('callback_data') or b.get('url', '')}]"
            for b in message["buttons"]
        ]
        if buttons:
            lines.append("  " + " ".join(buttons))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


@click.command("inbox")  # a subcommand of `demo`, which adds it
@click.option(
    "--as", "telegram_id", type=int, required=True, help="The operator's Telegram id (111)."
)
@click.option(
    "--last",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="How many of the newest messages to show.",
)
@pass_context
def inbox_command(obj: CliContext, telegram_id: int, last: int) -> None:
    """Show what the staff bot sent to an operator of the running demo, newest last:
    notifications with their buttons, digests, progress messages."""
    settings = obj.settings
    admin = settings.admin_bot
    if admin is None or admin.api_base is None:
        fail("demo inbox: the configuration has no admin_bot.api_base; use the demo's config.yaml")
    try:
        messages = fetch_inbox(admin.api_base, telegram_id)
    except httpx.HTTPError:
        fail(f"demo inbox: no demo answers at {admin.api_base}; is `switchboard demo` running?")
    if not messages:
        click.echo(f"The staff bot has sent nothing to {telegram_id} yet.")
        return
    shown_messages = messages[-last:]
    click.echo(
        f"The staff bot's messages to {telegram_id}: {len(shown_messages)} of {len(messages)}, "
        "newest last\n"
    )
    click.echo(render_inbox(shown_messages, settings.zone))
