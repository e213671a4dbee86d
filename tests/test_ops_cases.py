"""Issue 13's "done when", each in a real Chromium: from ``/ops`` alone an engineer can tell
which bot is not delivering and why — the platform answering 429 again and again, the
platform unreachable, the store locked, the worker process dead, the broker's data lost — and
the page says it in words this test reads (the page updates itself: ``commands.ops_live``).

Real parts: ``serve``'s application on a loopback port, the Telegram Bot API emulator, the real
PostgreSQL and Redis; in ``redis://`` mode the worker is an ``Engine`` of this process with its
dispatcher and worker threads, as ``switchboard worker`` runs them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import peewee
import psycopg
import redis
from playwright.async_api import BrowserContext, Page

from commands.ops_live import LIVE_EVERY_S
from config import Settings
from emulators.telegram import TelegramEmulator
from store import jobs, leases, outbox
from store.clock import utcnow
from store.db import database_proxy, open_database
from store.inbound import get_or_create_client
from store.models import Bot, Client, Message
from store.setup import sync_bots
from tests.browser import chromium
from tests.services import REDIS_URL, redis_namespace
from tests.test_health import TOKEN, TOKEN_TG, closed_port, serving
from workers.engine import Engine

WAIT_MS = 60_000  # generous: a shared 2-core machine; the page polls every LIVE_EVERY_S


def _settings(
    bots: list[dict[str, Any]], broker: str = "memory://", ns: str = "sbt", **delivery: Any
) -> Settings:
    return Settings.model_validate(
        {
            "broker_url": broker,
            "ops_token": TOKEN,
            "timezone": "Europe/Moscow",
            "bots": bots,
            "delivery": {"namespace": ns, "dispatch_interval_s": 0.2, **delivery},
        }
    )


@asynccontextmanager
async def ops(settings: Settings, tmp_path: Path, channels: bool = False) -> AsyncIterator[Page]:
    """``/ops`` of a running ``serve``, signed in, in Chromium."""
    async with serving(settings, channels=channels) as url, chromium(tmp_path) as browser:
        page = await _open(browser, url)
        yield page


async def _open(browser: BrowserContext, url: str) -> Page:
    page = await browser.new_page()
    await page.goto(f"{url}/ops?token={TOKEN}")
    return page


async def shows(page: Page, selector: str, *words: str) -> str:
    """Wait until ``selector``'s text holds every one of ``words`` (the page updates itself);
    returns that text."""
    test = " && ".join(f"t.includes({w!r})" for w in words)
    await page.wait_for_function(
        f"(() => {{ const e = document.querySelector({selector!r}); if (!e) return false;"
        f" const t = e.textContent; return {test}; }})()",
        timeout=WAIT_MS,
        polling=500,
    )
    return await page.locator(selector).inner_text()


async def test_a_platform_answering_429_again_and_again(
    pg_db: peewee.Database, tmp_path: Path
) -> None:
    async with TelegramEmulator(tokens=[TOKEN_TG], limits=False) as emu:
        emu.user(TOKEN_TG, 51, first_name="Ann")
        emu.fail_next("sendMessage", status=429, retry_after=4, times=50)
        bot = {
            "name": "shop_flood",
            "kind": "telegram",
            "token": TOKEN_TG,
            "api_base": emu.base_url,
        }
        sync_bots([("shop_flood", "telegram")])
        client, _ = get_or_create_client(Bot.get(Bot.name == "shop_flood"), "51")
        queued = outbox.enqueue(client, "sale today")
        async with ops(_settings([bot]), tmp_path) as page:
            verdict = await shows(page, "#verdict", "shop_flood: sends failing: 429")
            assert "Flood control exceeded" in verdict and "Retry in 4 seconds" in verdict
            assert await page.locator("header#header").get_attribute("class") == "failing"
            await shows(page, "#bot-health", "429 ×")
            # Paused until a time in the project's zone (the pause lapses between the 429s:
            # wait for a moment inside one).
            await shows(page, "#bot-health tbody tr td:nth-child(7)", "MSK")
            # The retried send, with its code and when it goes again.
            errors = await shows(page, "#errors", "retrying", "429")
            assert "sale today" in errors
    assert Message.get_by_id(queued.id).status == "queued"


async def test_an_unreachable_platform(pg_db: peewee.Database, tmp_path: Path) -> None:
    bot = {"name": "shop_down", "kind": "telegram", "token": TOKEN_TG}
    bot["api_base"] = f"http://127.0.0.1:{closed_port()}"
    sync_bots([("shop_down", "telegram")])
    client, _ = get_or_create_client(Bot.get(Bot.name == "shop_down"), "52")
    outbox.enqueue(client, "your order shipped")
    async with ops(_settings([bot], backoff_base_s=30), tmp_path) as page:
        verdict = await shows(page, "#verdict", "shop_down: sends failing: network")
        assert "degraded" in verdict
        errors = await shows(page, "#errors", "network", "retrying")
        assert "your order shipped" in errors


def _lock(db_url_conn: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(db_url_conn)
    conn.execute("LOCK TABLE project_setting IN EXCLUSIVE MODE")
    return conn


async def test_a_locked_store(pg_db: peewee.Database, pg_url: str, tmp_path: Path) -> None:
    settings = _settings([{"name": "shop_tg", "kind": "telegram", "token": "1:abc"}])
    async with serving(settings) as url, chromium(tmp_path) as browser:
        lock = _lock(pg_url.replace("postgresql+psycopg", "postgresql"))
        try:
            page = await _open(browser, url)
            verdict = await page.locator("#verdict").inner_text()
        finally:
            lock.rollback()
            lock.close()
        assert "cannot deliver" in verdict
        assert "store unreachable: write failed" in verdict
        service = await page.locator("#service").inner_text()
        assert "write failed" in service
        # The lock is gone: the page turns whole and green by itself.
        await shows(page, "#verdict", "All parts healthy")
        await shows(page, "main", "Outbox by status")


async def test_a_store_that_is_down(pg_db: peewee.Database, tmp_path: Path) -> None:
    """The database server stops answering: here, the service's store moved to a port where
    nothing listens, then back (PostgreSQL itself is shared by the machine's other tests)."""
    settings = _settings([{"name": "shop_tg", "kind": "telegram", "token": "1:abc"}])
    async with serving(settings) as url, chromium(tmp_path) as browser:
        open_database(f"postgresql://postgres@127.0.0.1:{closed_port()}/switchboard")
        try:
            page = await _open(browser, url)
            verdict = await page.locator("#verdict").inner_text()
            assert "cannot deliver" in verdict
            assert "store unreachable: write failed" in verdict and "refused" in verdict
            assert "Outbox by status" not in await page.locator("main").inner_text()
        finally:
            database_proxy.initialize(pg_db)
        await shows(page, "#verdict", "All parts healthy")
        await shows(page, "main", "Outbox by status")


async def test_a_dead_worker_process(pg_db: peewee.Database, tmp_path: Path) -> None:
    with redis_namespace() as ns:
        settings = _settings(
            [{"name": "shop_tg", "kind": "telegram", "token": "1:abc"}], REDIS_URL, ns
        )
        sync_bots([("shop_tg", "telegram")])
        # What a SIGKILLed worker leaves: its lease, no longer renewed; and a message waits.
        old = utcnow() - dt.timedelta(seconds=settings.delivery.lease_s * 3)
        leases.register("deadhost:4242:abcdef", host="deadhost", pid=4242, threads=8, now=old)
        client, _ = get_or_create_client(Bot.get(Bot.name == "shop_tg"), "53")
        outbox.enqueue(client, "waiting for a worker")
        async with ops(settings, tmp_path) as page:
            verdict = await page.locator("#verdict").inner_text()
            assert "cannot deliver" in verdict and "no worker process alive" in verdict
            service = await page.locator("#service").inner_text()
            assert "workers alive\t0" in service
            assert await page.locator("#workers").inner_text() == (
                "No worker process has renewed its lease recently."
            )
            # A live worker takes over: the page says so by itself.
            leases.register("livehost:1:abcdef", host="livehost", pid=1, threads=4)
            await shows(page, "#workers", "livehost")


async def test_the_brokers_data_lost_then_the_sweep_resends_and_a_chart_shows_the_minute(
    pg_db: peewee.Database, tmp_path: Path
) -> None:
    """Redis loses the namespace's keys (a FLUSHALL, here limited to this test's namespace:
    the machine's Redis is shared) while three messages of a broadcast wait in the broker."""
    async with TelegramEmulator(tokens=[TOKEN_TG], limits=False) as emu:
        for peer in (61, 62, 63):
            emu.user(TOKEN_TG, peer, first_name=f"U{peer}")
        bot = {"name": "shop_tg", "kind": "telegram", "token": TOKEN_TG, "api_base": emu.base_url}
        sync_bots([("shop_tg", "telegram")])
        tg = Bot.get(Bot.name == "shop_tg")
        for peer in (61, 62, 63):
            get_or_create_client(tg, str(peer))
        with redis_namespace() as ns:
            settings = _settings([bot], REDIS_URL, ns, stale_after_s=25)
            worker = Engine(settings)  # what `switchboard worker` runs, dispatcher first
            worker.start_dispatcher()
            try:
                job = jobs.create_broadcast(Client.select(), "Sale starts now", steps={tg.id: 0.0})
                ids = [m.id for m in Message.select().where(Message.job == job.id)]
                await _until(lambda: _handed_over(ids) == 3)
                client = redis.Redis.from_url(REDIS_URL)
                keys = list(client.scan_iter(match=f"{ns}*", count=1000))
                client.delete(*keys)  # the broker's data is gone; the rows are not
                client.close()
                async with ops(settings, tmp_path) as page:
                    verdict = await shows(page, "#verdict", "broker lost 3 queued messages")
                    assert "the sweep re-enqueues them 25 s after their hand-over" in verdict
                    assert "lost 3 queued messages" in await page.locator("#service").inner_text()
                    worker.start_workers(2)  # a worker process comes (back)
                    service = await shows(page, "#service", "re-enqueued 3 stuck or lost messages")
                    assert "MSK" in service
                    await _until(lambda: len(emu.sent(TOKEN_TG)) == 3)
                    caption = await shows(page, "#chart-shop_tg-60 figcaption", "3 sent")
                    assert "Busiest minute " in caption and "MSK: 3 sent" in caption
                    await shows(page, "#verdict", "All parts healthy")
            finally:
                await asyncio.to_thread(worker.stop)
    assert sorted(m.text or "" for m in emu.sent(TOKEN_TG)) == ["Sale starts now"] * 3


def _handed_over(ids: list[int]) -> int:
    return (
        Message.select()
        .where(
            Message.id.in_(ids)
            & (Message.status == "queued")
            & (Message.updated_at >= Message.next_attempt_at)
        )
        .count()
    )


async def _until(test: Any, timeout_s: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await asyncio.to_thread(test):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(0.2)


assert LIVE_EVERY_S * 1000 < WAIT_MS  # every wait spans several of the page's updates
