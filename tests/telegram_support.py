"""Shared pieces of the Telegram tests: tokens, a fake clock, a bot's settings."""

from __future__ import annotations

from typing import Any

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
