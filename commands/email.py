"""``switchboard email ...``: write to an email address (F2), shared with the admin bot.

``start_email`` checks the bot and the address, creates the client if new and puts the mail in
the durable outbox (``store.outbox``), in one transaction. ``switchboard email write`` then
delivers that row at once from this process through the delivery engine's ``Sender`` (rate
limits, error classes and retries exactly as the workers apply them; a row a running worker
took first is left to it). A transient failure leaves the row queued for the workers to retry.
"""

from __future__ import annotations

from dataclasses import dataclass

import click

from bots.email.address import InvalidAddress, normalise_address
from commands.cli import CliContext, cli, pass_context
from config import EmailBotSettings, Settings
from store import outbox
from store.db import write_transaction
from store.errors import NotFound
from store.inbound import get_or_create_client
from store.models import Bot, Message


@dataclass(frozen=True, slots=True)
class Started:
    client_id: int
    client_created: bool
    message_id: int  # the outbox row (Message.id)
    address: str


def email_bot(settings: Settings, name: str) -> EmailBotSettings:
    """The configured, enabled email bot ``name``; ``click.ClickException`` listing the choices."""
    bots = [b for b in settings.bots if isinstance(b, EmailBotSettings)]
    for bot in bots:
        if bot.name == name:
            if not bot.enabled:
                raise click.ClickException(f"email bot {name!r} is disabled")
            return bot
    known = ", ".join(b.name for b in bots) or "none configured"
    raise click.ClickException(f"no email bot named {name!r} (email bots: {known})")


def start_email(
    settings: Settings,
    bot_name: str,
    address: str,
    subject: str,
    text: str,
    *,
    operator_id: int | None = None,
) -> Started:
    """F2: queue a mail to ``address`` from email bot ``bot_name``; the client is created if new.

    Raises ``click.ClickException`` for an unknown bot and ``InvalidAddress`` (one line) for a
    bad address, before anything is written. Blocking store code.
    """
    email_bot(settings, bot_name)
    clean = normalise_address(address)
    bot = Bot.get_or_none(Bot.name == bot_name)
    if bot is None:
        raise NotFound(f"unknown bot {bot_name!r}")
    with write_transaction():
        client, created = get_or_create_client(bot, clean)
        row = outbox.enqueue(
            client,
            text,
            bot_id=bot.id,
            author_kind="operator",
            operator_id=operator_id,
            subject=subject,
        )
    return Started(client.id, created, row.id, clean)


def deliver_now(settings: Settings, message_id: int) -> Message:
    """Send outbox row ``message_id`` from this process; returns the row as it then stands."""
    from workers.engine import Engine

    engine = Engine(settings)
    try:
        engine.sender.send(message_id)
    finally:
        engine.sender.close()
    return Message.get_by_id(message_id)


@cli.group("email")
def email_group() -> None:
    """Email bots: write to an address (F2)."""


@email_group.command("write")
@click.argument("bot")
@click.argument("address")
@click.argument("subject")
@click.argument("text")
@pass_context
def write_command(obj: CliContext, bot: str, address: str, subject: str, text: str) -> None:
    """Mail TEXT under SUBJECT to ADDRESS from email bot BOT (the client is created if new)."""
    from commands.runtime import open_store

    settings = obj.settings
    email_bot(settings, bot)
    try:
        normalise_address(address)
    except InvalidAddress as exc:
        raise click.ClickException(str(exc)) from None
    open_store(settings)
    started = start_email(settings, bot, address, subject, text)
    row = deliver_now(settings, started.message_id)
    who = f"client {started.client_id}" + (" (new)" if started.client_created else "")
    what = f"message {row.id}, {who}"
    if row.status == "sent":
        click.echo(f"sent to {started.address}: {what}, Message-ID {row.platform_message_id}")
    elif row.status == "failed":
        raise click.ClickException(f"mail to {started.address} failed: {row.error_text} ({what})")
    else:
        reason = f": {row.error_text}" if row.error_text else ""
        when = f" (next attempt {row.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC)"
        click.echo(
            f"queued for {started.address}, not sent yet{reason}; the outbox workers "
            f"(serve or worker) will send it{when if row.next_attempt_at else ''}: {what}"
        )
