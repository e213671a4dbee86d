"""``/ops`` updates itself in a real Chromium (``commands.ops_live``): new figures appear
without a reload, and still after an action (Retry now) navigated the page; the fragment it
fetches is the header and main only, behind the same token. The page, a client's card and a
job's page read at 375 px without sideways scrolling."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import peewee
from playwright.async_api import Page

from commands.delivery import ENGINE_KEY
from commands.ops_live import LIVE_EVERY_S
from store import jobs, outbox
from store.inbound import get_or_create_client
from store.models import Bot, Client
from store.setup import sync_bots
from tests.browser import chromium
from tests.services import REDIS_URL, redis_namespace
from tests.test_ops import TOKEN, _settings, serving
from workers.engine import Engine

WAIT_MS = (LIVE_EVERY_S * 3 + 5) * 1000  # a few rounds of polling on a busy machine


async def _caption(page: Page, step: int) -> str:
    return await page.locator(f"#chart-shop_tg-{step} figcaption").inner_text()


async def test_the_page_updates_itself_and_keeps_doing_so_after_an_action(
    pg_db: peewee.Database, tmp_path: Path
) -> None:
    sync_bots([("shop_tg", "telegram")])
    client, _ = get_or_create_client(Bot.get(Bot.name == "shop_tg"), "800")
    job = jobs.create_broadcast(Client.select(), "A long sale text " * 30, steps={})
    failed = outbox.enqueue(client, "will fail")
    outbox.claim(failed.id)
    outbox.mark_failed(failed.id, "PermanentError", "Bad Request: message is too long")
    with redis_namespace() as ns:
        async with serving(_settings(REDIS_URL, ns)) as (url, app):
            engine = app[ENGINE_KEY]
            assert isinstance(engine, Engine)
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{url}/ops?live=1") as r:
                    assert r.status == 401
                bearer = {"Authorization": f"Bearer {TOKEN}"}
                async with http.get(f"{url}/ops?live=1", headers=bearer) as r:
                    fragment = await r.text()
                assert fragment.startswith('<header id="header"')
                assert fragment.rstrip().endswith("</main>") and "<html" not in fragment
            async with chromium(tmp_path) as browser:
                page = await browser.new_page()
                await page.goto(f"{url}/ops?token={TOKEN}")
                assert "0 sent" in await _caption(page, 10)
                await page.evaluate("window.sameDocument = true")
                engine.stats.record("shop_tg", "sent", "text", 0.02, n=7)
                await page.wait_for_function(
                    "document.querySelector('#chart-shop_tg-10 figcaption')"
                    ".textContent.includes('7 sent')",
                    timeout=WAIT_MS,
                )
                assert await page.evaluate("window.sameDocument") is True  # no reload
                # An action navigates; the new page goes on updating itself.
                await page.get_by_role("button", name=f"Retry message {failed.id} now").click()
                await page.wait_for_url(f"{url}/ops?retried={failed.id}")
                engine.stats.record("shop_tg", "inbound", "text", n=3)
                await page.wait_for_function(
                    "document.querySelector('#chart-shop_tg-60 figcaption')"
                    ".textContent.includes('3 inbound')",
                    timeout=WAIT_MS,
                )
                assert "queued again" in await page.locator("#notice").inner_text()
                assert "live, every" in await page.locator("#live").inner_text()
                # The pages an error and a job lead to read at 375 px too.
                await page.set_viewport_size({"width": 375, "height": 800})
                for path in (f"/ops/clients/{client.id}", f"/ops/jobs/{job.id}", "/ops"):
                    await page.goto(url + path)
                    widths = await page.evaluate(
                        "[document.documentElement.scrollWidth,"
                        " document.documentElement.clientWidth]"
                    )
                    assert widths[0] <= widths[1] == 375, path
