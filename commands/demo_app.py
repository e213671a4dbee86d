"""The demo's way into the Mini App without Telegram (issue 17 item 8), DEMO ONLY.

Telegram hands a Mini App its signed initData in the URL hash; the demo signs initData itself
with the demo admin bot's token (which it knows: it is the demo's own emulated bot) and prints
a link a normal browser opens: ``/app/#tgWebAppData=...&tgWebAppThemeParams=...``. Anyone
holding a real admin bot's token could do the same, which is why a token is a secret; a real
deployment never prints such links. ``switchboard demo app-link --as ID`` prints a fresh one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import quote, urlencode

import click

from commands.context import CliContext, fail, pass_context

LIGHT_THEME = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#999999",
    "link_color": "#2481cc",
    "button_color": "#2481cc",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#efeff3",
}
DARK_THEME = {
    "bg_color": "#212121",
    "text_color": "#ffffff",
    "hint_color": "#aaaaaa",
    "link_color": "#8774e1",
    "button_color": "#8774e1",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#181818",
}


def sign_init_data(bot_token: str, fields: dict[str, str]) -> str:
    """``fields`` as initData carrying the hash Telegram computes: HMAC-SHA256 of the sorted
    ``key=value`` lines under the key HMAC-SHA256("WebAppData", bot token)."""
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


def operator_init_data(
    bot_token: str, telegram_id: int, first_name: str, auth_date: int | None = None
) -> str:
    """initData for the Telegram user ``telegram_id``, dated ``auth_date`` (default now)."""
    user = {"id": telegram_id, "first_name": first_name, "language_code": "en"}
    fields = {
        "query_id": f"demo{telegram_id}",
        "user": json.dumps(user, separators=(",", ":"), ensure_ascii=False),
        "auth_date": str(int(time.time()) if auth_date is None else auth_date),
    }
    return sign_init_data(bot_token, fields)


def app_link(
    base: str, init_data: str, *, dark: bool = False, query: str = "", platform: str = "unknown"
) -> str:
    """The app at ``base`` opened as Telegram opens it: initData and theme in the hash.
    ``platform`` ``unknown`` is a plain browser (the app draws its own Back and main buttons);
    ``android``, ``ios``... make it use Telegram's."""
    theme = DARK_THEME if dark else LIGHT_THEME
    params = {
        "tgWebAppData": init_data,
        "tgWebAppVersion": "8.0",
        "tgWebAppPlatform": platform,
        "tgWebAppThemeParams": json.dumps(theme, separators=(",", ":")),
    }
    fragment = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    return f"{base.rstrip('/')}/app/{'?' + query if query else ''}#{fragment}"


@click.command("app-link")  # a subcommand of `demo`, which adds it
@click.option(
    "--as", "telegram_id", type=int, required=True, help="The operator's Telegram id (111)."
)
@click.option("--dark", is_flag=True, help="Telegram's dark theme.")
@pass_context
def app_link_command(obj: CliContext, telegram_id: int, dark: bool) -> None:
    """Print a link that opens the running demo's Mini App in a browser as an operator, with
    initData the demo signs itself (demo only; valid for admin_bot.app_init_data_max_age_s)."""
    from store.models import Operator
    from store.runtime import open_store

    settings = obj.settings
    admin = settings.admin_bot
    if admin is None or admin.api_base is None:
        fail("demo app-link: the configuration has no demo admin_bot; use the demo's config.yaml")
    open_store(settings)
    operator = Operator.get_or_none(Operator.telegram_id == telegram_id)
    if operator is None:
        fail(f"demo app-link: {telegram_id} is not an operator of the demo (try 111)")
    init_data = operator_init_data(admin.token.get_secret_value(), telegram_id, operator.name)
    click.echo(app_link(f"http://{settings.host}:{settings.port}", init_data, dark=dark))
