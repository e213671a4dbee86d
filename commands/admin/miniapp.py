"""The admin bot's ways into the Mini App (docs/app.md): ``/app``, the menu button set at start
(``botapi.publish_app_button``) and "Open in app" on client cards.

All need ``admin_bot.public_url`` (Telegram opens Mini Apps only over HTTPS); without it
``/app`` says what to configure and the cards carry no app button. The app's first screen
comes from the query (``/app/?screen=client&id=42``; see ``commands/app/static/app.js``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from commands.admin.context import CommandContext, CommandError
from commands.admin.registry import ADMIN_COMMANDS
from commands.admin.reply import Button, Reply
from config import Settings

MENU_TEXT = "Inbox"  # the menu button's label next to the message field
NOT_CONFIGURED = (
    "The app is not set up: set admin_bot.public_url in config.yaml to the service's public "
    "HTTPS address (for example https://shop.example; Telegram opens apps only over HTTPS) "
    "and restart serve. See docs/app.md."
)


def app_url(settings: Settings, screen: str | None = None, **params: str | int) -> str | None:
    """The app's address, opening ``screen`` with ``params``; None without a public URL."""
    admin = settings.admin_bot
    if admin is None or admin.public_url is None:
        return None
    query = urlencode({"screen": screen, **params}) if screen else ""
    return f"{admin.public_url}/app/" + (f"?{query}" if query else "")


def open_in_app_row(ctx: CommandContext, client_id: int) -> list[list[Button]]:
    """The card's "Open in app" row, or none without a public URL."""
    url = app_url(ctx.settings, "client", id=client_id)
    return [[Button("📱 Open in app", web_app=url)]] if url else []


@ADMIN_COMMANDS.command("app", "/app", "Open the inbox as an app inside Telegram.")
def app_command(ctx: CommandContext, args: str) -> Reply:
    if args:
        raise CommandError("/app takes no arguments.")
    url = app_url(ctx.settings)
    if url is None:
        return Reply(NOT_CONFIGURED)
    return Reply(
        "The inbox as an app: clients, filters, bulk actions and dialogs.",
        [[Button("📱 Open the app", web_app=url)]],
    )
