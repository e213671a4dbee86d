"""The Mini App's shell in Debian's Chromium at a phone's size: it signs in with initData from
the URL hash, shows the operator and the unread badge in Telegram's light and dark theme, and
shows the server's one-line refusal for forged initData."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import peewee
import pytest
from playwright.async_api import BrowserContext

from store.clients.unread import mark_unread
from store.inbound import get_or_create_client
from store.models import Bot, Client
from store.setup import sync_bots
from tests.admin_support import ADMIN_ID, make_staff
from tests.app_support import (
    BOT_TOKEN,
    DARK,
    LIGHT,
    app_settings,
    open_app,
    serving_app,
    signed_init_data,
)
from tests.browser import chromium


def _rgb(hex_color: str) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    async with chromium(tmp_path) as context:
        yield context


async def test_shell_signs_in_and_follows_the_theme(
    db: peewee.Database, browser: BrowserContext
) -> None:
    make_staff()
    sync_bots([("shop_tg", "telegram")])
    bot = Bot.get(Bot.name == "shop_tg")
    for i in range(3):
        get_or_create_client(bot, str(700 + i))
    mark_unread(Client.select(Client.id))  # the admin answers for every unread dialog
    async with serving_app(app_settings()) as url:
        for theme in (LIGHT, DARK):
            # The client list is the first screen (screens/list.js); home is asked for by name.
            init_data = signed_init_data(BOT_TOKEN, ADMIN_ID)
            page = await open_app(browser, url, init_data, theme, query="screen=home")
            assert await page.evaluate("document.body.dataset.ready") == "1"
            assert await page.locator("#me-name").inner_text() == "Anna"
            assert await page.locator("#unread").inner_text() == "3"
            assert await page.locator("#unread").is_visible()
            background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
            text = await page.evaluate("getComputedStyle(document.body).color")
            assert (background, text) == (_rgb(theme["bg_color"]), _rgb(theme["text_color"]))
            scheme = await page.evaluate("Telegram.WebApp.colorScheme")
            assert scheme == ("dark" if theme is DARK else "light")
            first_render = await page.evaluate("window.switchboardFirstRender")
            assert isinstance(first_render, int | float) and first_render > 0
            await page.close()


async def test_shell_shows_the_refusal_for_forged_init_data(
    db: peewee.Database, browser: BrowserContext
) -> None:
    make_staff()
    async with serving_app(app_settings()) as url:
        page = await open_app(browser, url, signed_init_data("1:forger", ADMIN_ID))
        assert await page.evaluate("document.body.dataset.ready") == "refused"
        assert await page.locator("#refused").inner_text() == "initData is not signed by this bot"
        assert await page.locator("#me-name").count() == 0
