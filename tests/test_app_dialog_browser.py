"""The client, dialog and broadcast screens in Debian's Chromium at 390×844, against the real
service with the Bot API emulator on PostgreSQL (the API tests cover both databases): a card
menu action reaching the store, a reply (with a photo) reaching the emulator, a client's new
message appearing live, also after the phone lost its connection, and a broadcast's plan,
start and cancel.

``APP_SCREENSHOTS=docs/app`` also saves each screen there (docs/app.md shows them).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee
import pytest
from playwright.async_api import FilePayload, Page

from commands.delivery import install_delivery
from commands.web import install_channels
from config import Settings
from emulators.telegram import TelegramEmulator
from store.clients.unread import is_unread
from store.models import Client, Job, LabelMembership, Message, Operator
from store.setup import sync_bots
from tests import factories as f
from tests.admin_support import ADMIN_ID, OPERATOR_ID, make_staff
from tests.app_support import BOT_TOKEN, DARK, open_app, serving_app, signed_init_data
from tests.browser import chromium
from tests.telegram_support import SECRET, TOKEN, register_webhook

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 128
ANN = 4242  # the client's Telegram user id
WAIT_MS = 20_000  # the longest a screen may take to show a change (polls every 3 s)


@dataclass
class World:
    emu: TelegramEmulator
    base: str


def settings_for(emu: TelegramEmulator, files_dir: Path) -> Settings:
    bot = {
        "name": "tg",
        "kind": "telegram",
        "token": TOKEN,
        "webhook_secret": SECRET,
        "api_base": emu.base_url,
    }
    return Settings.model_validate(
        {
            "bots": [bot],
            "admin_bot": {"token": BOT_TOKEN, "mode": "polling", "files_dir": str(files_dir)},
            "delivery": {"dispatch_interval_s": 0.2},
        }
    )


@pytest.fixture
async def world(pg_db: peewee.Database, tmp_path: Path) -> AsyncIterator[World]:
    """The service with the Telegram bot ``tg`` on the emulator, its delivery engine and the
    app; Anna (admin) and Boris (operator) are staff."""
    make_staff()
    async with TelegramEmulator(tokens=[TOKEN], limits=False) as emu:
        settings = settings_for(emu, tmp_path / "files")
        sync_bots((b.name, b.kind) for b in settings.bots)
        async with serving_app(settings, installers=[install_channels, install_delivery]) as base:
            await register_webhook(emu.base_url, base)
            yield World(emu, base)


async def client_writes(world: World, text: str) -> Client:
    """Ann writes to the bot; her client once stored."""
    await world.emu.user(TOKEN, ANN, first_name="Ann", last_name="Petrova").send_text(text)
    return await until(lambda: Client.get_or_none(Client.messenger_id == str(ANN)))


async def until(probe: Any, timeout_s: float = 20.0) -> Any:
    """Poll the store until ``probe()`` is truthy (the service writes from its own threads)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not (value := probe()):
        if loop.time() > deadline:
            raise AssertionError("the store never showed it")
        await asyncio.sleep(0.1)
    return value


async def screenshot(page: Page, name: str) -> None:
    """Take the screen (a real PNG); save it as ``name``.png in APP_SCREENSHOTS when set."""
    image = await page.screenshot(full_page=False)
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    target = os.environ.get("APP_SCREENSHOTS")
    if target:
        await asyncio.to_thread(save, Path(target) / f"{name}.png", image)


def save(path: Path, image: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image)


async def test_card_menu_reply_and_live_arrival(world: World, tmp_path: Path) -> None:
    client = await client_writes(world, "Hello, is the blue one in stock?")
    boris = Operator.get(Operator.telegram_id == OPERATOR_ID)
    Client.update(responsible=boris.id).where(Client.id == client.id).execute()  # F15 counts it
    init_data = signed_init_data(BOT_TOKEN, OPERATOR_ID)
    async with chromium(tmp_path) as browser:
        page = await open_app(browser, world.base, init_data, query=f"screen=client&id={client.id}")
        await page.wait_for_selector(".msg.in >> text=blue one in stock", timeout=WAIT_MS)
        assert not is_unread(client.id)  # opening the card read it
        await page.wait_for_selector("#unread", state="hidden", timeout=WAIT_MS)  # F15: 1 -> 0

        await page.click("[data-action=pin]")
        await page.wait_for_selector("#pinned", timeout=WAIT_MS)
        assert Client.get_by_id(client.id).pinned
        await page.click("[data-action=labels]")
        await page.fill("#new-labels", "Hot lead")
        await page.press("#new-labels", "Enter")
        await page.wait_for_selector("#pick-labels [data-choice='Hot lead']", timeout=WAIT_MS)
        await screenshot(page, "client-labels")
        assert LabelMembership.select().where(LabelMembership.client == client.id).exists()
        await page.mouse.click(200, 40)  # outside the sheet: it closes

        await page.fill("#reply-text", "Yes! Shall I reserve it?")
        await page.click("#send")
        sent = await world.emu.wait_sent(1, timeout_s=20, token=TOKEN, chat_id=ANN)
        assert sent[0].text == "Yes! Shall I reserve it?"
        await page.wait_for_selector(".msg.out[data-status=sent]", timeout=WAIT_MS)

        await page.set_input_files(
            "#pick-photo", files=[FilePayload(name="blue.png", mimeType="image/png", buffer=PNG)]
        )
        await page.wait_for_selector("#attached >> text=blue.png")
        await page.click("#send")
        sent = await world.emu.wait_sent(2, timeout_s=20, token=TOKEN, chat_id=ANN)
        assert sent[1].kind == "photo" and sent[1].file is not None

        await client_writes(world, "Yes please, until Friday")
        await page.wait_for_selector(".msg.in >> text=until Friday", timeout=WAIT_MS)
        await screenshot(page, "client")
        await page.click("#card-details summary")
        await screenshot(page, "client-card")


async def test_live_arrival_survives_a_dropped_connection(world: World, tmp_path: Path) -> None:
    client = await client_writes(world, "first")
    init_data = signed_init_data(BOT_TOKEN, OPERATOR_ID)
    async with chromium(tmp_path) as browser:
        page = await open_app(browser, world.base, init_data, DARK)  # the list first
        await page.click(f"li.card[data-id='{client.id}']")  # tapping a client opens its dialog
        await page.wait_for_selector(".msg.in >> text=first", timeout=WAIT_MS)
        await browser.set_offline(True)
        await page.wait_for_selector("#reconnecting", state="visible", timeout=WAIT_MS)
        await client_writes(world, "written while you were offline")
        await browser.set_offline(False)
        await page.wait_for_selector(".msg.in >> text=while you were offline", timeout=WAIT_MS)
        await page.wait_for_selector("#reconnecting", state="hidden", timeout=WAIT_MS)
        await screenshot(page, "client-dark")


async def test_broadcast_plan_start_and_cancel(pg_db: peewee.Database, tmp_path: Path) -> None:
    """Without a delivery engine the job stays running, so Cancel has rows to drop."""
    make_staff()
    for i in range(4):
        f.client(f"VIP {i}", lists=("VIP",))
    f.client("VIP blocked", lists=("VIP",), blocked=True)
    # A configured bot (never started here: no channels) gives the plan its rate and time.
    shop = {"name": "shop_tg", "kind": "telegram", "token": TOKEN, "api_base": "http://127.0.0.1:9"}
    settings = Settings.model_validate(
        {"bots": [shop], "admin_bot": {"token": BOT_TOKEN, "mode": "polling"}}
    )
    async with serving_app(settings) as base, chromium(tmp_path) as browser:
        init_data = signed_init_data(BOT_TOKEN, ADMIN_ID)
        page = await open_app(browser, base, init_data, query="screen=broadcast")
        await page.fill("#broadcast-filter", "list:VIP")
        await page.fill("#broadcast-text", "Spring sale: -10% for VIPs")
        await page.click("#main-button")
        await page.wait_for_selector("#plan-recipients >> text=4")
        plan = await page.inner_text("#plan")
        assert "4 recipients of 5 matching" in plan and "not configured" not in plan
        assert Job.select().count() == 0  # a plan sends nothing
        await screenshot(page, "broadcast-plan")
        await page.click("#main-button")  # Send to 4 clients
        await page.wait_for_selector("#job[data-state=pending], #job[data-state=running]")
        assert Message.select().where(Message.status == "queued").count() == 4
        await screenshot(page, "job")
        await page.click("#main-button")  # Cancel the job
        await page.click("#confirm-no")
        assert Job.get().state in ("pending", "running")  # asked first: nothing happened
        await page.click("#main-button")
        await page.click("#confirm-yes")
        await page.wait_for_selector("#job[data-state=cancelled]")
        assert await page.inner_text("[data-figure=cancelled]") == "4"
        assert Message.select().count() == 0 and Job.get().state == "cancelled"
