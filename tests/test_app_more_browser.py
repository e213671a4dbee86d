"""The More screen in Debian's Chromium at 390×844 against the real service on PostgreSQL (the
API tests cover both databases): F1 writes to a new WhatsApp number and the service's delivery
engine sends it through pywa to the Graph API emulator (a new number gets the bot's first-contact
template), then F3 marks everything read after the confirmation.

``APP_SCREENSHOTS=docs/app`` also saves the screen there (docs/app.md shows it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import peewee
import pytest

from commands.delivery import install_delivery
from config import Settings
from emulators.whatsapp import GraphEmulator
from store.clients.unread import unread_ids
from store.models import Client, Message
from store.setup import sync_bots
from tests import factories as f
from tests.admin_support import OPERATOR_ID, make_staff
from tests.app_support import BOT_TOKEN, open_app, serving_app, signed_init_data
from tests.browser import chromium
from tests.test_app_dialog_browser import WAIT_MS, screenshot, until
from tests.test_app_tools_api import wa_bot

KERRY = "+16315551181"


@dataclass
class World:
    graph: GraphEmulator
    base: str


@pytest.fixture
async def world(pg_db: peewee.Database, tmp_path: Path) -> AsyncIterator[World]:
    """The service with WhatsApp bot ``wa`` on the Graph API emulator, its delivery engine and
    the app; Anna (admin) and Boris (operator) are staff."""
    make_staff()
    async with GraphEmulator(
        access_token=wa_bot("wa")["access_token"], seconds_per_recipient=0
    ) as graph:
        bot = {**wa_bot("wa"), "api_base": graph.url}
        settings = Settings.model_validate(
            {
                "bots": [bot],
                "admin_bot": {"token": BOT_TOKEN, "mode": "polling", "files_dir": str(tmp_path)},
                "delivery": {"dispatch_interval_s": 0.2},
            }
        )
        sync_bots((b.name, b.kind) for b in settings.bots)
        async with serving_app(settings, installers=[install_delivery]) as base:
            yield World(graph, base)


async def test_write_to_whatsapp_then_mark_everything_read(world: World, tmp_path: Path) -> None:
    unread = [f.client(f"Unread {i}", unread=True).id for i in range(3)]
    init_data = signed_init_data(BOT_TOKEN, OPERATOR_ID)
    async with chromium(tmp_path) as browser:
        page = await open_app(browser, world.base, init_data)
        await page.click("#menu-button")  # the list's header: the home menu
        await page.click("#menu >> text=Write to new contacts")
        await page.wait_for_selector("#write [data-kind=whatsapp].active", timeout=WAIT_MS)
        assert await page.locator("#write-bot").count() == 0  # one bot: not asked
        await page.fill("#write-to", "(631) 555-1181")
        await page.fill("#write-text", "Your order is ready")
        await page.click("#write-send")
        await page.wait_for_selector("#write-done", timeout=WAIT_MS)
        assert KERRY in await page.inner_text("#write-done")
        await screenshot(page, "more")

        client = await until(lambda: Client.get_or_none(Client.messenger_id == KERRY))
        row = await until(
            lambda: Message.get_or_none((Message.client == client.id) & (Message.status == "sent"))
        )
        [sent] = world.graph.sent
        assert (sent.to, sent.type) == (KERRY[1:], "template")  # a new number: the template
        assert row.platform_message_id == sent.wamid

        await page.click("#readall")
        await page.wait_for_selector("#confirm-yes", timeout=WAIT_MS)
        assert "3 clients" in await page.inner_text(".sheet-text")
        assert Client.select().where(Client.id.in_(unread_ids())).count() == 3
        await page.click("#confirm-yes")
        await page.wait_for_selector("#toast >> text=Marked 3 dialogs read.", timeout=WAIT_MS)
    assert not Client.select().where(Client.id.in_(unread) & Client.id.in_(unread_ids())).exists()
