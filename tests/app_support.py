"""Helpers for Mini App tests: initData signed as Telegram signs it, the app served on a
loopback port, a Chromium page at a phone's size opened with initData in the URL hash.

The hash is how Telegram hands a Mini App its data (``#tgWebAppData=...&tgWebAppThemeParams=
...``); the vendored ``telegram-web-app.js`` reads it, so a plain browser runs the real app.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from playwright.async_api import BrowserContext, Page, ViewportSize

from commands.app.serve import install_app
from commands.demo_app import DARK_THEME, LIGHT_THEME, app_link
from commands.demo_app import sign_init_data as sign
from commands.web import RouteInstaller, build_app
from config import Settings
from emulators.loopback import served

BOT_TOKEN = "123456:APP-test-token"
PHONE: ViewportSize = {"width": 390, "height": 844}
LIGHT, DARK = LIGHT_THEME, DARK_THEME


def init_data_fields(user_id: int, auth_date: int | None = None, **extra: str) -> dict[str, str]:
    """The fields Telegram puts in initData for ``user_id``, unsigned."""
    user = {"id": user_id, "first_name": "Test", "username": f"u{user_id}", "language_code": "en"}
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(user, separators=(",", ":")),
        "auth_date": str(int(time.time()) if auth_date is None else auth_date),
    }
    fields.update(extra)
    return fields


def signed_init_data(
    bot_token: str, user_id: int, auth_date: int | None = None, **extra: str
) -> str:
    """initData for ``user_id`` signed with ``bot_token``, dated ``auth_date`` (default now);
    signed by the demo's signer, checked by aiogram's own implementation."""
    return sign(bot_token, init_data_fields(user_id, auth_date, **extra))


def app_settings(**overrides: Any) -> Settings:
    """Settings with an admin bot (the app's key) and ``overrides`` (top-level keys)."""
    admin = {"token": BOT_TOKEN, "mode": "polling", **overrides.pop("admin_bot", {})}
    return Settings.model_validate({"admin_bot": admin, **overrides})


@asynccontextmanager
async def serving_app(
    settings: Settings, installers: list[RouteInstaller] | None = None
) -> AsyncIterator[str]:
    """``serve``'s app with the Mini App (and ``installers``) on a free loopback port: its URL."""
    app = build_app(settings, installers=[*(installers or []), install_app])
    async with served(app) as url:
        yield url


async def open_app(
    browser: BrowserContext,
    base: str,
    init_data: str,
    theme: dict[str, str] | None = None,
    query: str = "",
    platform: str = "unknown",
) -> Page:
    """A 390×844 page with the app opened and its first screen shown (or refused)."""
    page = await browser.new_page()
    await page.set_viewport_size(PHONE)
    await page.goto(app_link(base, init_data, dark=theme is DARK, query=query, platform=platform))
    await page.wait_for_selector("body[data-ready]")
    return page
