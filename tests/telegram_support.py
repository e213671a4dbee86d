"""Shared pieces of the Telegram tests: tokens, a fake clock, a bot's settings."""

from __future__ import annotations

from typing import Any

from bots.telegram.client import make_bot
from bots.telegram.updates import used_kinds
from config import Settings

TOKEN = "123456:TEST-token_abc"
OTHER_TOKEN = "654321:OTHER-token_xyz"
SECRET = "hook-secret_42"


class FakeClock:
    """A monotonic clock the test moves by hand (seconds)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def settings_for(api_base: str | None, **bot: Any) -> Settings:
    """Settings with one Telegram bot ``tg`` (token ``TOKEN``) whose API is at ``api_base``."""
    tg: dict[str, Any] = {
        "name": "tg",
        "kind": "telegram",
        "token": TOKEN,
        "webhook_secret": SECRET,
        "api_base": api_base,
        **bot,
    }
    return Settings.model_validate({"bots": [tg]})


async def register_webhook(api_base: str, base: str, *, business: bool = False) -> None:
    """Point bot ``tg``'s webhook (``TOKEN`` at the emulator ``api_base``) at the service
    ``base``, asking for the update kinds it uses."""
    async with make_bot(TOKEN, api_base) as bot:
        await bot.set_webhook(
            f"{base}/webhooks/telegram/tg",
            secret_token=SECRET,
            allowed_updates=used_kinds(business),
        )
