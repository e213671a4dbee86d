"""``switchboard telegram ...``: register, inspect and remove a Telegram bot's webhook.

``set-webhook BOT --url URL`` registers URL (normally ``https://<host>/webhooks/telegram/BOT``)
with the bot's secret: the configured ``webhook_secret``, else one generated once and kept in
the store (the webhook handler reads it from there). The secret is never printed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

import click

from commands.cli import CliContext, cli, pass_context
from config import Settings, TelegramBotSettings

if TYPE_CHECKING:  # aiogram is imported when a command runs: `switchboard --help` stays quick
    from aiogram import Bot

T = TypeVar("T")


def telegram_bot(settings: Settings, name: str) -> TelegramBotSettings:
    """The configured, enabled Telegram bot ``name``; ``ClickException`` listing the choices."""
    bots = [b for b in settings.bots if isinstance(b, TelegramBotSettings)]
    for bot in bots:
        if bot.name == name:
            if not bot.enabled or bot.token is None:
                raise click.ClickException(f"telegram bot {name!r} is disabled")
            return bot
    known = ", ".join(b.name for b in bots) or "none configured"
    raise click.ClickException(f"no telegram bot named {name!r} (telegram bots: {known})")


def call_bot(bot: TelegramBotSettings, work: Callable[[Bot], Awaitable[T]]) -> T:
    """Run ``work`` with an aiogram ``Bot`` of ``bot``; Telegram's refusal as one line."""

    from aiogram.exceptions import AiogramError

    from bots.telegram.client import make_bot

    async def run() -> T:
        assert bot.token is not None
        client = make_bot(bot.token.get_secret_value(), bot.api_base)
        try:
            return await work(client)
        finally:
            await client.session.close()

    try:
        return asyncio.run(run())
    except AiogramError as exc:
        message = getattr(exc, "message", str(exc)).splitlines()[0]
        raise click.ClickException(f"Telegram refused: {message}") from None


def check_url(url: str, bot_name: str) -> None:
    from bots.telegram.webhook import webhook_path

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.ClickException(f"--url must be an https:// URL, got {url!r}")
    if not parts.path.endswith(webhook_path(bot_name)):
        click.echo(
            f"note: this service receives the bot's updates at {webhook_path(bot_name)}; "
            "make sure your proxy forwards the URL there",
            err=True,
        )


@cli.group("telegram")
def telegram_group() -> None:
    """Telegram bots: register, inspect or remove the webhook."""


@telegram_group.command("set-webhook")
@click.argument("bot")
@click.option("--url", required=True, help="Public URL Telegram posts updates to.")
@click.option("--drop-pending", is_flag=True, help="Discard updates Telegram holds.")
@pass_context
def set_webhook_command(obj: CliContext, bot: str, url: str, drop_pending: bool) -> None:
    """Register URL as BOT's webhook, with its secret (configured, or generated and stored)."""
    settings = obj.settings
    bot_settings = telegram_bot(settings, bot)
    check_url(url, bot)
    if bot_settings.webhook_secret is not None:
        secret, origin = bot_settings.webhook_secret.get_secret_value(), "configured"
    else:
        from bots.telegram.secret import ensure_secret
        from store.runtime import open_store

        database = open_store(settings)
        try:
            secret, origin = ensure_secret(bot), "generated, kept in the store"
        finally:
            database.close()

    from bots.telegram.updates import used_kinds

    async def register(client: Bot) -> bool:
        return await client.set_webhook(
            url,
            secret_token=secret,
            allowed_updates=used_kinds(bot_settings.business),
            drop_pending_updates=drop_pending or None,
        )

    call_bot(bot_settings, register)
    click.echo(f"webhook of {bot} set to {url} (secret: {origin})")


@telegram_group.command("delete-webhook")
@click.argument("bot")
@click.option("--drop-pending", is_flag=True, help="Discard updates Telegram holds.")
@pass_context
def delete_webhook_command(obj: CliContext, bot: str, drop_pending: bool) -> None:
    """Remove BOT's webhook (Telegram keeps its updates for polling)."""
    bot_settings = telegram_bot(obj.settings, bot)

    async def remove(client: Bot) -> bool:
        return await client.delete_webhook(drop_pending_updates=drop_pending or None)

    call_bot(bot_settings, remove)
    click.echo(f"webhook of {bot} deleted")


@telegram_group.command("webhook-info")
@click.argument("bot")
@pass_context
def webhook_info_command(obj: CliContext, bot: str) -> None:
    """Show where Telegram sends BOT's updates, how many wait and the last error."""
    bot_settings = telegram_bot(obj.settings, bot)
    info = call_bot(bot_settings, lambda client: client.get_webhook_info())
    click.echo(f"url: {info.url or '(none: updates wait for polling)'}")
    click.echo(f"pending updates: {info.pending_update_count}")
    if info.last_error_message:
        when = f" at {info.last_error_date:%Y-%m-%d %H:%M:%S}" if info.last_error_date else ""
        click.echo(f"last error{when}: {info.last_error_message}")
