"""``switchboard email write``: write to an email address (F2), shared with the admin bot.

``start_email`` checks the bot and the address, creates the client if new and puts the mail in
the durable outbox, in one transaction (``commands.write``). ``switchboard email write`` then
delivers it at once; a transient failure leaves it queued for the workers.
"""

from __future__ import annotations

import click

from bots.email.address import InvalidAddress, normalise_address
from commands.cli import CliContext, cli, pass_context
from commands.write import Draft, Started, WriteRefused, configured_bot, queue_write, run_cli_write
from config import EmailBotSettings, Settings

__all__ = ["Started", "WriteRefused", "check_email", "start_email"]


def check_email(settings: Settings, bot_name: str, address: str) -> tuple[EmailBotSettings, str]:
    """The email bot ``bot_name`` and ``address`` normalised, or ``WriteRefused`` (one line)."""
    bot = configured_bot(settings, bot_name, EmailBotSettings)
    try:
        return bot, normalise_address(address)
    except InvalidAddress as exc:
        raise WriteRefused(str(exc)) from None


def start_email(
    settings: Settings,
    bot_name: str,
    address: str,
    subject: str,
    text: str,
    *,
    operator_id: int | None = None,
) -> Started:
    """queue a mail to ``address`` from email bot ``bot_name``; the client is created if new.

    Raises ``WriteRefused`` (one line) for an unknown or disabled bot and a bad address, before
    anything is written. Blocking store code.
    """
    _, clean = check_email(settings, bot_name, address)
    return queue_write(
        bot_name,
        clean,
        lambda client, created: Draft(text, subject=subject),
        operator_id=operator_id,
    )


@cli.group("email")
def email_group() -> None:
    """Email bots: write to an address."""


@email_group.command("write")
@click.argument("bot")
@click.argument("address")
@click.argument("subject")
@click.argument("text")
@pass_context
def write_command(obj: CliContext, bot: str, address: str, subject: str, text: str) -> None:
    """Mail TEXT under SUBJECT to ADDRESS from email bot BOT (the client is created if new)."""
    settings = obj.settings
    run_cli_write(
        settings,
        lambda: check_email(settings, bot, address),
        lambda: start_email(settings, bot, address, subject, text),
        what="mail",
        id_label="Message-ID",
    )
