"""Shared pieces of the WhatsApp tests: a bot's settings and the service serving its webhook."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from commands.web import build_app, install_channels
from config import Settings
from emulators.loopback import served
from store.setup import sync_bots

PHONE_ID = "106540352242922"
ACCESS_TOKEN = "EAAtest-token"
APP_SECRET = "app-secret-123"
VERIFY_TOKEN = "verify-me"


def settings_for(api_base: str | None = None, **bot: Any) -> Settings:
    """Settings with one WhatsApp bot ``wa`` (secrets above), its Graph API at ``api_base``."""
    wa: dict[str, Any] = {
        "name": "wa",
        "kind": "whatsapp",
        "phone_number_id": PHONE_ID,
        "access_token": ACCESS_TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "api_base": api_base,
        **bot,
    }
    return Settings.model_validate({"bots": [wa]})


@contextlib.asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[str]:
    """``switchboard serve``'s app for ``settings`` on a free loopback port; yields its URL.

    The store must be open (the ``db`` fixture); the configured bots are mirrored into it.
    """
    sync_bots((b.name, b.kind) for b in settings.bots)
    app = build_app(settings, installers=[install_channels])
    async with served(app) as url:
        yield url
