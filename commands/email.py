"""``switchboard email ...``: write to an email address (F2), shared with the admin bot.

``write_email`` is the command itself (usable from any async caller): it checks the address,
creates the client if new, records the outbound message, sends it and records the outcome
(``sent`` with our Message-ID, or ``failed`` with the reason).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import click

from bots.contract import OutboundMessage
from bots.email.address import InvalidAddress, normalise_address
from bots.errors import ChannelError
from bots.webhook import store_call
from commands.cli import CliContext, cli, pass_context
from config import EmailBotSettings, Settings
from store.clock import utcnow
from store.db import write_transaction
from store.errors import NotFound
from store.inbound import get_or_create_client
from store.models import Bot, Message


@dataclass(frozen=True, slots=True)
class WriteResult:
    client_id: int
    client_created: bool
    message_id: int  # Message.id of the outbound row
    status: str  # "sent" or "failed"
    platform_message_id: str | None = None
    error: str | None = None


def email_bot(settings: Settings, name: str) -> EmailBotSettings:
    """The configured email bot ``name``; ``click.ClickException`` listing the choices."""
    bots = [b for b in settings.bots if isinstance(b, EmailBotSettings)]
    for bot in bots:
        if bot.name == name:
            if not bot.enabled or bot.smtp is None:
                raise click.ClickException(f"email bot {name!r} is disabled or has no smtp")
            return bot
    known = ", ".join(b.name for b in bots) or "none configured"
    raise click.ClickException(f"no email bot named {name!r} (email bots: {known})")


def _record(
    bot_name: str, address: str, subject: str, text: str, operator_id: int | None
) -> tuple[int, bool, int]:
    bot = Bot.get_or_none(Bot.name == bot_name)
    if bot is None:
        raise NotFound(f"unknown bot {bot_name!r}")
    now = utcnow()
    with write_transaction():
        client, created = get_or_create_client(bot, address, now=now)
        row = Message.create(
            client=client.id,
            bot=bot,
            direction="out",
            author_kind="operator",
            operator=operator_id,
            text=text,
            subject=subject,
            status="sending",
            attempts=1,
            created_at=now,
            updated_at=now,
        )
    return client.id, created, row.id


def _finish(
    row_id: int, status: str, platform_id: str | None, code: str | None, error: str | None
) -> None:
    with write_transaction():
        Message.update(
            status=status,
            platform_message_id=platform_id,
            error_code=code,
            error_text=error,
            updated_at=utcnow(),
        ).where(Message.id == row_id).execute()


async def write_email(
    settings: Settings,
    bot_name: str,
    address: str,
    subject: str,
    text: str,
    *,
    operator_id: int | None = None,
) -> WriteResult:
    """F2: mail ``text`` under ``subject`` to ``address`` from email bot ``bot_name``.

    Raises ``click.ClickException`` for an unknown bot, ``InvalidAddress`` for a bad
    address (before anything is written). A send failure is recorded on the message and
    returned as ``status="failed"``.
    """
    from bots.email.adapter import EmailAdapter

    bot_settings = email_bot(settings, bot_name)
    address = normalise_address(address)
    client_id, created, row_id = await store_call(
        _record, bot_name, address, subject, text, operator_id
    )
    adapter = EmailAdapter(bot_settings, settings)
    try:
        result = await adapter.send(
            OutboundMessage(
                bot_name=bot_name,
                messenger_id=address,
                text=text,
                subject=subject,
                outbox_id=row_id,
            )
        )
    except ChannelError as exc:
        code = exc.code or type(exc).__name__
        await store_call(_finish, row_id, "failed", None, code, exc.reason)
        return WriteResult(client_id, created, row_id, "failed", error=exc.reason)
    await store_call(_finish, row_id, "sent", result.platform_message_id, None, None)
    return WriteResult(client_id, created, row_id, "sent", result.platform_message_id)


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
    outcome = asyncio.run(write_email(settings, bot, address, subject, text))
    who = f"client {outcome.client_id}" + (" (new)" if outcome.client_created else "")
    if outcome.status != "sent":
        raise click.ClickException(
            f"mail to {address} failed: {outcome.error} (message {outcome.message_id}, {who})"
        )
    click.echo(
        f"sent to {address.strip().lower()}: message {outcome.message_id}, {who}, "
        f"Message-ID {outcome.platform_message_id}"
    )
