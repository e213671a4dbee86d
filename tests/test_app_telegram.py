"""The shell inside Telegram, in Chromium: the vendored telegram-web-app.js posts its events to
``window.TelegramWebviewProxy`` (as Telegram's Android and iOS clients provide it), which this
test records; Telegram's answers are fed back with ``Telegram.WebView.receiveEvent``.

Checked: ready and expand at start; the BackButton shown on a second screen and its press going
back; the MainButton set up with its text and its press running the handler with haptic
feedback; a session that the server refuses renewed once with initData; the header's unread
count refreshed when the app becomes visible; an API error shown as the server's one line in a
toast."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import peewee
import pytest
from playwright.async_api import Page

from store.clients.unread import mark_unread
from store.inbound import get_or_create_client
from store.models import Bot, Client
from store.setup import sync_bots
from tests.admin_support import ADMIN_ID, make_staff
from tests.app_support import BOT_TOKEN, app_settings, open_app, serving_app, signed_init_data
from tests.browser import chromium

RECORD_EVENTS = """
window.TelegramWebviewProxy = {
  postEvent(type, data) { (window.tgEvents ||= []).push([type, data ? JSON.parse(data) : null]); },
};
"""
SHELL = "import(document.querySelector('script[type=module][src$=\"/app.js\"]').src)"


async def _events(page: Page, kind: str) -> list[Any]:
    events = await page.evaluate("window.tgEvents || []")
    return [data for name, data in events if name == kind]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the front end: one store is enough
async def test_telegram_buttons_session_renewal_and_errors(
    db: peewee.Database, tmp_path: Path
) -> None:
    make_staff()
    async with serving_app(app_settings()) as url, chromium(tmp_path) as browser:
        await browser.add_init_script(RECORD_EVENTS)
        init_data = signed_init_data(BOT_TOKEN, ADMIN_ID)
        page = await open_app(browser, url, init_data, platform="android")
        assert await page.evaluate("document.body.dataset.ready") == "1"
        assert await _events(page, "web_app_ready") and await _events(page, "web_app_expand")
        first = await page.evaluate("document.querySelector('.screen').dataset.screen")
        assert await page.locator("#back").count() == 0  # Telegram's button, not ours

        # A second screen shows Telegram's BackButton; its press returns to the first.
        other = "home" if first != "home" else "clients"
        await page.evaluate(f"{SHELL}.then(app => app.navigate('{other}'))")
        assert (await _events(page, "web_app_setup_back_button"))[-1] == {"is_visible": True}
        await page.evaluate("Telegram.WebView.receiveEvent('back_button_pressed')")
        await page.wait_for_selector(f".screen[data-screen='{first}']")
        assert (await _events(page, "web_app_setup_back_button"))[-1] == {"is_visible": False}

        # The MainButton: its text, and a press runs the handler with a haptic tap.
        await page.evaluate(
            f"{SHELL}.then(app => app.mainButton.show('Label 3 clients', "
            "() => { window.pressed = (window.pressed || 0) + 1; }))"
        )
        setup = (await _events(page, "web_app_setup_main_button"))[-1]
        assert (setup["is_visible"], setup["text"]) == (True, "Label 3 clients")
        haptics_before = len(await _events(page, "web_app_trigger_haptic_feedback"))
        await page.evaluate("Telegram.WebView.receiveEvent('main_button_pressed')")
        assert await page.evaluate("window.pressed") == 1
        haptics = await _events(page, "web_app_trigger_haptic_feedback")
        assert len(haptics) == haptics_before + 1 and haptics[-1]["type"] == "impact"
        await page.evaluate(f"{SHELL}.then(app => app.mainButton.hide())")
        assert (await _events(page, "web_app_setup_main_button"))[-1]["is_visible"] is False

        # A token the server refuses is renewed once with initData, and the call succeeds.
        me = await page.evaluate(
            f"{SHELL}.then(async app => {{ app.state.token = 'v1.1.1.forged'; "
            "const me = await app.api('GET', '/me'); return [me.name, app.state.token]; })"
        )
        assert me[0] == "Anna" and me[1].startswith("v1.") and me[1] != "v1.1.1.forged"

        # The header's unread count follows the store when the app becomes visible again.
        assert await page.locator("#unread").is_hidden()  # nothing unread yet
        sync_bots([("shop_tg", "telegram")])
        get_or_create_client(Bot.get(Bot.name == "shop_tg"), "701")
        mark_unread(Client.select(Client.id))
        await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        await page.wait_for_selector("#unread:not([hidden])")
        assert await page.locator("#unread").inner_text() == "1"

        # An error: the server's one line in a toast, an error haptic, the call rejects.
        status = await page.evaluate(
            f"{SHELL}.then(app => app.api('GET', '/nowhere').then(() => 0, e => e.status))"
        )
        assert status == 404
        toast = page.locator("#toast")
        assert await toast.is_visible()
        assert await toast.inner_text() == "no endpoint GET /app/api/v1/nowhere"
        notes = await _events(page, "web_app_trigger_haptic_feedback")
        assert notes[-1] == {"type": "notification", "notification_type": "error"}
