"""The ops dashboard and /metrics over real HTTP: token, cookie, CSRF, the numbers, the actions.

The browser test drives Debian's Chromium through Playwright against ``serve``'s application
on a loopback port, with the real Redis broker and the real PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import peewee
import pytest
from aiohttp import web

from commands.delivery import ENGINE_KEY, install_delivery
from commands.ops import COOKIE, install_ops
from commands.web import build_app
from config import Settings
from emulators.loopback import served
from store import jobs, leases, outbox
from store.inbound import get_or_create_client
from store.models import Bot, Client, Job, Message
from store.setup import sync_bots
from tests.browser import chromium
from tests.services import REDIS_URL, redis_namespace
from tests.test_job_progress import PARTS, from_ops
from workers.engine import QUEUE, Engine
from workers.queues import dead_letters, depths, requeue
from workers.ratelimit import Limit

TOKEN = "ops-s3cret-token"


def _settings(broker_url: str, namespace: str, token: str | None = TOKEN) -> Settings:
    return Settings.model_validate(
        {
            "broker_url": broker_url,
            "ops_token": token,
            "bots": [{"name": "shop_tg", "kind": "telegram", "token": "1:abc"}],
            "delivery": {"namespace": namespace},
        }
    )


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[str, web.Application]]:
    """``serve``'s application (delivery engine + ops) on a free loopback port."""
    app = build_app(settings, installers=[install_delivery, install_ops])
    async with served(app) as url:
        yield url, app


def _seed(engine: Engine) -> dict[str, Any]:
    """A running broadcast of 3, one failed message with its error, one dead letter."""
    sync_bots([("shop_tg", "telegram")])
    bot = Bot.get(Bot.name == "shop_tg")
    clients = [get_or_create_client(bot, str(500 + i))[0] for i in range(4)]
    job = jobs.create_broadcast(
        Client.select().where(Client.id.in_([c.id for c in clients[:3]])),
        "Sale <b>today</b>",
        steps={bot.id: 60.0},
    )
    failed = outbox.enqueue(clients[3], "hi")
    outbox.claim(failed.id)
    outbox.mark_failed(failed.id, "403", "Forbidden: bot was blocked by the user <script>")
    # A dead letter made the way Dramatiq makes one when the actor raises: fetch, then nack.
    lost = outbox.enqueue(clients[3], "lost one")
    outbox.take_due()
    engine.hand_over([lost.id])
    consumer = engine.broker.consume(QUEUE, prefetch=1, timeout=200)
    try:
        for _ in range(50):
            proxy = next(consumer)
            if proxy is not None and proxy.args == (lost.id,):
                consumer.nack(proxy)
                break
            if proxy is not None:
                consumer.ack(proxy)
        else:
            raise AssertionError("the handed-over message never reached the consumer")
    finally:
        consumer.close()
    engine.stats.record("shop_tg", "sent", "text", 0.03)
    engine.stats.record("shop_tg", "sent", "text", 0.2)
    engine.stats.record("shop_tg", "failed", "Blocked", 0.04)
    return {"job": job.id, "failed": failed.id, "lost": lost.id}


@pytest.fixture(params=["memory", "redis"])
def broker(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    if request.param == "memory":
        yield "memory://", "sbtest"
    else:
        with redis_namespace() as prefix:
            yield REDIS_URL, prefix


async def test_token_cookie_csrf_and_metrics(db: peewee.Database, broker: tuple[str, str]) -> None:
    async with serving(_settings(*broker)) as (url, app), aiohttp.ClientSession() as http:
        engine = app[ENGINE_KEY]
        assert isinstance(engine, Engine)
        seeded = _seed(engine)
        leases.register("ops-host:4242:abc", host="ops-host", pid=4242)  # a worker elsewhere
        # A platform's 429 (retry after 0.5 s): the learned rate drops to 85 % of 30/s.
        engine.limiter.throttle(Limit("bot:shop_tg", 1 / 30, adaptive=True), 0.5)
        async with http.get(f"{url}/ops") as r:
            assert r.status == 401 and "ops token" in (await r.text()).lower()
        async with http.get(f"{url}/ops?token=wrong") as r:
            assert r.status == 401 and "Wrong ops token" in await r.text()
        async with http.get(f"{url}/ops?token={TOKEN}", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/ops"
            cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
        session = re.search(rf"{COOKIE}=([0-9a-f]+)", cookie)
        assert session is not None
        jar = {COOKIE: session.group(1)}
        async with http.get(f"{url}/ops", cookies=jar) as r:
            page = await r.text()
        assert r.status == 200
        # Store values are escaped, never markup.
        # (the one <script> is the page's own live update, commands.ops_live)
        assert "&lt;script&gt;" in page and page.count("<script>") == 1
        assert "Forbidden: bot was blocked" in page
        assert "<td>25.5</td>" in page and "(retry after 0.5 s)" in page
        # Sending processes with a live lease: the one above (and serve's own in memory mode).
        assert "<td>ops-host:4242:abc</td>" in page
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert csrf is not None
        cancel = f"{url}/ops/jobs/{seeded['job']}/cancel"
        # A cross-site form knows the cookie's name but not the CSRF token.
        async with http.post(cancel, cookies=jar, data={"csrf": "x"}) as r:
            assert r.status == 403
        async with http.post(cancel, data={"csrf": csrf.group(1)}) as r:
            assert r.status == 401
        assert Job.get_by_id(seeded["job"]).state == "running"
        async with http.post(
            f"{url}/ops/jobs/999/cancel", cookies=jar, data={"csrf": csrf.group(1)}
        ) as r:
            assert r.status == 404
        # Metrics: Bearer (Prometheus' authorization), the counters of every outcome.
        async with http.get(f"{url}/metrics") as r:
            assert r.status == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        async with http.get(f"{url}/metrics", headers=bearer) as r:
            text = await r.text()
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        assert 'switchboard_messages_sent_total{bot="shop_tg",kind="text"} 2.0' in text
        assert 'switchboard_send_failures_total{bot="shop_tg",reason="Blocked"} 1.0' in text
        # The 3 seeded calls, plus any failed call serve's own workers (memory://) made
        # meanwhile to the unreachable Bot API: every platform call has its latency.
        calls = sum(
            float(n)
            for n in re.findall(
                r'switchboard_(?:messages_sent|send_retries|send_failures)_total\{bot="shop_tg",'
                r'(?:kind|reason)="(?:text|media|template|Blocked|TransientError|RetryAfter)"\}'
                r" (\S+)",
                text,
            )
        )
        assert calls >= 3
        assert f'switchboard_send_latency_seconds_count{{bot="shop_tg"}} {calls}' in text
        fast = re.search(r'latency_seconds_bucket\{bot="shop_tg",le="0.05"\} (\S+)', text)
        assert fast is not None and float(fast.group(1)) >= 2.0
        assert 'switchboard_queue_depth{queue="dead"} 1.0' in text
        # serve's own workers (memory://) may hold one of the 4 queued rows at this moment.
        waiting = re.findall(
            r'switchboard_outbox_messages\{status="(?:queued|sending)"\} (\S+)', text
        )
        assert sum(float(n) for n in waiting) == 4.0
        assert 'switchboard_outbox_messages{status="failed"} 1.0' in text
        assert 'switchboard_limiter_next_slot_seconds{bot="shop_tg"}' in text
        assert 'switchboard_bot_rate_limit{bot="shop_tg"} 30.0' in text
        assert 'switchboard_bot_learned_rate{bot="shop_tg"} 25.5' in text
        assert 'switchboard_bot_429_total{bot="shop_tg"} 1.0' in text
        assert 'switchboard_bot_last_retry_after_seconds{bot="shop_tg"} 0.5' in text
        alive = 2.0 if engine.redis is None else 1.0  # memory mode: serve sends too
        assert f"switchboard_workers_alive {alive}" in text
        # The actions, as the browser test does them, on every store and broker.
        form = {"csrf": csrf.group(1)}
        # Cancel asks first: without confirm=yes the POST only leads to the confirm page.
        async with http.post(cancel, cookies=jar, data=form, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == f"/ops/jobs/{seeded['job']}/cancel"
        assert Job.get_by_id(seeded["job"]).state == "running"
        async with http.get(cancel, cookies=jar) as r:
            asking = await r.text()
            assert r.status == 200 and f"Yes, cancel job {seeded['job']}" in asking
        async with http.get(cancel) as r:
            assert r.status == 401
        confirmed = form | {"confirm": "yes"}
        async with http.post(cancel, cookies=jar, data=confirmed, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == f"/ops?cancelled={seeded['job']}"
        assert Job.get_by_id(seeded["job"]).state == "cancelled"
        # The page reads a cancelled job by the one progress rule (docs/operations.md).
        async with http.get(f"{url}/ops", cookies=jar) as r:
            finished = re.search(r'<table id="finished-jobs">.*?</table>', await r.text(), re.S)
        assert finished is not None
        shown = from_ops(finished.group(0))
        assert sum(shown[k] for k in PARTS[1:]) == shown["total"] == 3
        assert shown["cancelled"] >= 2 and shown["percent"] < 100
        stored = jobs.progress(seeded["job"])
        assert (shown["total"], shown["planned"]) == (stored.total, stored.planned)
        key = dead_letters(engine)[0].key
        before = Message.get_by_id(seeded["lost"]).updated_at
        requeue_url = f"{url}/ops/dead/{key}/requeue"
        async with http.post(requeue_url, cookies=jar, data=form, allow_redirects=False) as r:
            assert r.headers["Location"] == f"/ops?requeued={seeded['lost']}"
        # Due again now (in memory mode serve's own workers may already be sending it).
        assert Message.get_by_id(seeded["lost"]).updated_at > before
        assert depths(engine).dead == 0
        async with http.post(requeue_url, cookies=jar, data=form, allow_redirects=False) as r:
            assert r.headers["Location"] == "/ops?gone=1"


async def test_ops_is_off_without_a_token(db: peewee.Database) -> None:
    settings = _settings("memory://", "sbtest", token=None)
    async with serving(settings) as (url, _), aiohttp.ClientSession() as http:
        for path in ("/ops", f"/ops?token={TOKEN}", "/metrics"):
            async with http.get(url + path) as r:
                assert r.status == 403 and "set ops_token" in await r.text()
        async with http.post(f"{url}/ops/jobs/1/cancel", data={"csrf": ""}) as r:
            assert r.status == 403


async def test_dashboard_in_chromium_cancels_a_job_and_requeues_a_dead_letter(
    pg_db: peewee.Database, tmp_path: Path
) -> None:
    with redis_namespace() as namespace:
        settings = _settings(REDIS_URL, namespace)
        async with serving(settings) as (url, app), chromium(tmp_path) as browser:
            engine = app[ENGINE_KEY]
            assert isinstance(engine, Engine)
            seeded = _seed(engine)
            letter = dead_letters(engine)[0]
            page = await browser.new_page()
            await page.goto(f"{url}/ops?token={TOKEN}")
            assert page.url == f"{url}/ops"  # the token left the address bar
            assert await page.locator("h1").inner_text() == "Switchboard ops"
            outbox_row = page.locator("#outbox tr").nth(1)
            assert await page.locator("#outbox tr").first.inner_text() == "failed\tqueued"
            assert await outbox_row.inner_text() == "1\t4"
            queues = await page.locator("#queues tr").nth(1).inner_text()
            assert queues.split("\t")[3] == "1"  # one dead letter
            job_row = page.locator("#jobs tr", has_text="broadcast")
            assert "running" in await job_row.inner_text()
            assert "0/3" in await job_row.inner_text()
            bots = await page.locator("#bots tr", has_text="shop_tg").inner_text()
            assert "30" in bots and "free" in bots
            await page.locator(f"button[name=cancel-{seeded['job']}]").click()
            await page.wait_for_url(re.compile(r"/ops/jobs/\d+/cancel"))
            assert Job.get_by_id(seeded["job"]).state == "running"  # it asks first
            await page.get_by_role("button", name=f"Yes, cancel job {seeded['job']}").click()
            await page.wait_for_url(re.compile(r"/ops\?cancelled="))
            assert "cancelled" in await page.locator("#notice").inner_text()
            assert Job.get_by_id(seeded["job"]).state == "cancelled"
            assert Message.select().where(Message.job == seeded["job"]).count() == 0
            assert "No job is running." in await page.locator("#jobs").inner_text()
            row_before = Message.get_by_id(seeded["lost"])
            assert row_before.status == "queued"
            await page.locator(f"button[name='requeue-{letter.key}']").click()
            await page.wait_for_url(re.compile(r"/ops\?requeued="))
            assert str(seeded["lost"]) in await page.locator("#notice").inner_text()
            assert "No dead letters." in await page.locator("#dead").inner_text()
            row = Message.get_by_id(seeded["lost"])
            assert (row.status, row.attempts) == ("queued", 0)
            assert row.next_attempt_at and row_before.next_attempt_at
            assert row.next_attempt_at > row_before.next_attempt_at
            q = depths(engine)
            assert (q.dead, q.ready) == (0, 1)
            # Requeueing the same letter again (a double click, two engineers) does nothing.
            assert requeue(engine, letter.key) is None
