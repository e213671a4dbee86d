"""Health per bot and per component: ``/healthz?verbose=1`` and the top of ``/ops``.

Real parts only: ``serve``'s application on a loopback port (channels, delivery engine, ops)
on SQLite and PostgreSQL, the real Redis broker, a Telegram bot whose API address is a closed
port (its poller and its sends fail as they would against an unreachable platform), a store
locked by another connection, and a worker lease left behind by a dead process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import peewee
import psycopg
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from commands.delivery import install_delivery
from commands.ops import install_ops
from commands.web import build_app, install_channels
from config import Settings
from emulators import whatsapp_payloads as wp
from emulators.loopback import free_port as closed_port  # nothing listens there
from emulators.loopback import served
from emulators.telegram import TelegramEmulator
from emulators.whatsapp import GraphEmulator
from store import ingest_state, leases, outbox
from store.clock import utcnow
from store.inbound import get_or_create_client
from store.ingest_state import read_states
from store.models import Bot
from store.setup import sync_bots
from tests import whatsapp_support as wa_support
from tests.browser import chromium
from tests.conftest import migrated_store
from tests.services import REDIS_URL, redis_namespace

TOKEN = "ops-health-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
TOKEN_TG = "123456:TEST-token_abc"


def _settings(
    bots: list[dict[str, Any]], broker: str = "memory://", ns: str = "sbt", backoff_s: float = 0.2
) -> Settings:
    return Settings.model_validate(
        {
            "broker_url": broker,
            "ops_token": TOKEN,
            "timezone": "Europe/Moscow",
            "bots": bots,
            "delivery": {"namespace": ns, "dispatch_interval_s": 0.2, "backoff_base_s": backoff_s},
        }
    )


def _unreachable_bot(name: str, mode: str) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "telegram",
        "token": "1:abc",
        "mode": mode,
        "api_base": f"http://127.0.0.1:{closed_port()}",
    }


@asynccontextmanager
async def serving(settings: Settings, channels: bool = False) -> AsyncIterator[str]:
    installers = [install_delivery, install_ops]
    if channels:
        installers.insert(0, install_channels)
    app = build_app(settings, installers=installers)
    async with served(app) as url:
        yield url


async def verbose(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{url}/healthz?verbose=1", headers=BEARER) as r:
        return r.status, await r.json()


async def until(http: aiohttp.ClientSession, url: str, test: Any, timeout_s: float = 30) -> Any:
    """Poll verbose health until ``test(status, body)``; returns the last body."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        status, body = await verbose(http, url)
        if test(status, body):
            return status, body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"health never matched: {status} {body}")
        await asyncio.sleep(0.3)


def _bot(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(b for b in body["bots"] if b["name"] == name)


async def test_verbose_needs_the_ops_token_and_names_every_part(db: peewee.Database) -> None:
    settings = _settings([{"name": "hv_ok", "kind": "telegram", "token": "1:abc"}])
    async with serving(settings) as url, aiohttp.ClientSession() as http:
        async with http.get(f"{url}/healthz?verbose=1") as r:
            assert r.status == 401
        async with http.get(f"{url}/healthz") as r:  # the load balancer's check stays open
            assert r.status == 200 and (await r.json())["status"] == "ok"
        status, body = await until(http, url, lambda s, b: b["service"]["workers"])
    assert status == 200 and body["status"] == "ok" and body["problems"] == []
    service = body["service"]
    assert service["store"]["ok"] is True and service["store"]["write_ms"] > 0
    assert service["broker"] == {"ok": True, "state": "in-process"}
    worker = service["workers"][0]
    assert worker["pid"] > 0 and worker["threads"] == settings.delivery.worker_threads
    assert worker["host"] == socket.gethostname()
    assert service["oldest_queued_s"] is None
    bot = _bot(body, "hv_ok")
    assert bot["rate_limit"] == 30 and bot["learned_rate"] == 30
    assert bot["paused_until"] is None and bot["recent_errors"] == {}
    assert bot["ingest"]["mode"] is None and bot["last_sent_at"] is None


async def test_an_unreachable_platform_turns_the_bot_red(db: peewee.Database) -> None:
    """Polling ingest and sends against a closed port: the bot's problems say which and why;
    the service still delivers the other bots (200, ``degraded``)."""
    settings = _settings(
        [_unreachable_bot("hv_poll", "polling"), _unreachable_bot("hv_send", "webhook")]
    )
    sync_bots([("hv_poll", "telegram"), ("hv_send", "telegram")])
    client, _ = get_or_create_client(Bot.get(Bot.name == "hv_send"), "700")
    queued = outbox.enqueue(client, "hello")
    async with serving(settings, channels=True) as url, aiohttp.ClientSession() as http:
        status, body = await until(
            http,
            url,
            lambda s, b: _bot(b, "hv_poll")["problems"] and _bot(b, "hv_send")["problems"],
        )
    assert status == 200 and body["status"] == "degraded" and body["deliverable"] is True
    poll = _bot(body, "hv_poll")
    assert poll["ingest"]["mode"] == "polling" and poll["ingest"]["connected"] is False
    assert "deleteWebhook failed" in poll["ingest"]["last_error"]
    assert "1:abc" not in str(body)  # never the token
    send = _bot(body, "hv_send")
    assert send["last_send_error"]["code"] == "network"
    assert send["recent_errors"]["network"] >= 1 and send["last_sent_at"] is None
    assert "sends failing: network" in send["problems"][0]
    assert outbox.Message.get_by_id(queued.id).error_code == "network"
    # The shared record reached the store for other processes to read.
    stored = read_states(["hv_poll"])["hv_poll"]
    assert stored.failing and stored.connected is False


def _lock_store(db: peewee.Database, db_url: str) -> Any:
    """Another connection holding the write lock (SQLite) or the settings table (PostgreSQL)."""
    if isinstance(db, peewee.SqliteDatabase):
        other = sqlite3.connect(db.database, timeout=0.1, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        return other
    conn = psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql"))
    conn.execute("LOCK TABLE project_setting IN EXCLUSIVE MODE")
    return conn


async def test_a_bot_turns_red_while_its_api_is_down_and_back_when_it_returns(
    db: peewee.Database,
) -> None:
    port = closed_port()
    bot = {**_unreachable_bot("hv_back", "polling"), "token": TOKEN_TG, "poll_timeout_s": 1}
    bot["api_base"] = f"http://127.0.0.1:{port}"
    sync_bots([("hv_back", "telegram")])
    async with serving(_settings([bot]), channels=True) as url, aiohttp.ClientSession() as http:
        await until(http, url, lambda s, b: _bot(b, "hv_back")["problems"])
        async with TelegramEmulator(tokens=[TOKEN_TG], limits=False, port=port) as emu:
            _, body = await until(http, url, lambda s, b: not _bot(b, "hv_back")["problems"])
            ingest = _bot(body, "hv_back")["ingest"]
            assert ingest["connected"] is True and "failed" in ingest["last_error"]
            assert body["status"] == "ok"
            await emu.user(TOKEN_TG, 42, first_name="Ann").send_text("hello again")
            _, body = await until(http, url, lambda s, b: _bot(b, "hv_back")["last_inbound_at"])
    assert _bot(body, "hv_back")["last_inbound_at"].endswith("Z")


async def test_repeated_429s_show_as_a_paused_bot_then_clear(db: peewee.Database) -> None:
    """The platform answers 429 three times: the bot is red with the code, paused until the
    retry-after and counted; once a send goes through it is green, the 429s still counted."""
    async with TelegramEmulator(tokens=[TOKEN_TG], limits=False) as emu:
        emu.user(TOKEN_TG, 44, first_name="Cy")
        emu.fail_next("sendMessage", status=429, retry_after=3, times=3)
        bot = {"name": "hv_429", "kind": "telegram", "token": TOKEN_TG, "api_base": emu.base_url}
        sync_bots([("hv_429", "telegram")])
        client, _ = get_or_create_client(Bot.get(Bot.name == "hv_429"), "44")
        outbox.enqueue(client, "after the storm")
        async with serving(_settings([bot])) as url, aiohttp.ClientSession() as http:
            _, red = await until(http, url, lambda s, b: _bot(b, "hv_429")["problems"])
            _, green = await until(
                http, url, lambda s, b: _bot(b, "hv_429")["last_sent_at"], timeout_s=60
            )
    bot_red = _bot(red, "hv_429")
    assert bot_red["problems"] == [
        "sends failing: 429: Flood control exceeded on method 'SendMessage' in chat 44. "
        "Retry in 3 seconds."
    ]
    assert bot_red["paused_until"] is not None and bot_red["learned_rate"] < 30
    assert bot_red["recent_errors"]["429"] >= 1
    bot_green = _bot(green, "hv_429")
    assert bot_green["problems"] == [] and bot_green["recent_errors"] == {"429": 3}
    assert [m.text for m in emu.sent(TOKEN_TG)] == ["after the storm"]


async def test_updates_the_store_cannot_take_are_an_ingest_problem(db: peewee.Database) -> None:
    """The poller reaches Telegram but cannot store (the bot is not in the store): red, with
    why, while the poller stays connected and retries."""
    async with TelegramEmulator(tokens=[TOKEN_TG], limits=False) as emu:
        bot: dict[str, object] = {"name": "hv_nostore", "kind": "telegram", "token": TOKEN_TG}
        bot |= {"mode": "polling"}
        bot |= {"api_base": emu.base_url, "poll_timeout_s": 1}
        async with serving(_settings([bot]), channels=True) as url, aiohttp.ClientSession() as h:
            await emu.user(TOKEN_TG, 43, first_name="Bo").send_text("hi")
            _, body = await until(h, url, lambda s, b: _bot(b, "hv_nostore")["problems"])
    ingest = _bot(body, "hv_nostore")["ingest"]
    assert ingest["connected"] is True
    assert ingest["last_error"].startswith("cannot store updates: ")
    assert "hv_nostore" in ingest["last_error"]


async def test_a_webhook_hit_and_its_inbound_message_are_recorded(db: peewee.Database) -> None:
    wa = {
        "name": "hv_wa",
        "kind": "whatsapp",
        "phone_number_id": wa_support.PHONE_ID,
        "access_token": wa_support.ACCESS_TOKEN,
        "app_secret": wa_support.APP_SECRET,
        "verify_token": wa_support.VERIFY_TOKEN,
    }
    sync_bots([("hv_wa", "whatsapp")])
    settings = _settings([wa])
    async with (
        serving(settings, channels=True) as url,
        aiohttp.ClientSession() as http,
        GraphEmulator(app_secret=wa_support.APP_SECRET) as meta,
    ):
        before = utcnow().replace(microsecond=0)
        payload = wp.envelope(wa_support.PHONE_ID, messages=[wp.text("447700900123", "hi")])
        status, _ = await meta.post_webhook(f"{url}/webhooks/whatsapp/hv_wa", payload)
        assert status == 200
        _, body = await verbose(http, url)
    bot = _bot(body, "hv_wa")
    assert bot["ingest"]["mode"] == "webhook" and bot["ingest"]["connected"] is None
    assert bot["ingest"]["last_hit_at"] and bot["last_inbound_at"] and bot["problems"] == []
    arrived = dt.datetime.fromisoformat(bot["last_inbound_at"].removesuffix("Z"))
    assert arrived >= before
    stored = read_states(["hv_wa"])["hv_wa"].last_inbound_at  # what other readers get
    assert stored is not None and stored >= before


async def test_an_unreachable_mailbox_is_an_ingest_problem(db: peewee.Database) -> None:
    port = closed_port()
    mail = {
        "name": "hv_mail",
        "kind": "email",
        "imap": {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "user": "shop",
            "password": "pw-s3cret",
        },
        "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "from_address": "a@b.c"},
    }
    async with serving(_settings([mail]), channels=True) as url, aiohttp.ClientSession() as http:
        _, body = await until(http, url, lambda s, b: _bot(b, "hv_mail")["problems"])
    ingest = _bot(body, "hv_mail")["ingest"]
    assert ingest["mode"] == "idle" and ingest["connected"] is False
    assert f"IMAP connection to 127.0.0.1:{port} failed" in ingest["last_error"]
    assert "pw-s3cret" not in str(body)


@examples(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["hit", "error", "inbound"]), min_size=1, max_size=60))
def test_ingest_reports_reach_the_store_only_when_due(events: list[str]) -> None:
    """Within ``FLUSH_S`` a bot's record is written once, plus once per working/failing flip;
    the registry always holds the latest event."""
    registry = ingest_state._Registry()
    writes, flips, failing = 0, 0, None
    for n, event in enumerate(events):
        ok = event != "error"
        due = registry.report(
            "b",
            "webhook",
            ok=ok,
            error="boom",
            inbound=event == "inbound",
            clock_s=100.0 + n * 0.01,
        )
        writes += due is not None
        if failing is not None and failing == ok:
            flips += 1
        failing = not ok
    assert 1 <= writes <= 1 + flips
    latest = registry.local()["b"]
    assert latest.failing is (events[-1] == "error")
    later = registry.report("b", "webhook", ok=True, clock_s=100.0 + ingest_state.FLUSH_S + 1)
    assert later is not None and not later.failing


async def test_a_locked_store_makes_healthz_503(db: peewee.Database, db_url: str) -> None:
    settings = _settings([{"name": "hv_lock", "kind": "telegram", "token": "1:abc"}])
    async with serving(settings) as url, aiohttp.ClientSession() as http:
        lock = _lock_store(db, db_url)
        try:
            status, body = await verbose(http, url)
        finally:
            lock.rollback()
            lock.close()
        assert status == 503 and body["status"] == "unavailable"
        assert body["service"]["store"]["ok"] is False
        assert body["service"]["store"]["write_ms"] is None
        assert any(p.startswith("store unreachable: write failed") for p in body["problems"])
        async with http.get(f"{url}/ops", headers=BEARER) as r:
            assert r.status == 200  # the lock is gone: the page is whole again
        status, body = await verbose(http, url)
        assert status == 200 and body["service"]["store"]["ok"] is True


async def test_a_dispatcher_failing_on_a_locked_sqlite_store_is_named(tmp_path: Path) -> None:
    """The case that stayed green before: every dispatcher tick failing with "database is
    locked". SQLite only: its write lock makes every tick fail after the busy timeout (5 s)."""
    with migrated_store(f"sqlite:///{tmp_path / 'locked.db'}") as db:
        settings = _settings([{"name": "hv_tick", "kind": "telegram", "token": "1:abc"}])
        async with serving(settings) as url, aiohttp.ClientSession() as http:
            await until(http, url, lambda s, b: b["service"]["dispatcher"]["last_tick_at"])
            lock = _lock_store(db, "")
            try:
                status, body = await until(
                    http, url, lambda s, b: b["service"]["dispatcher"]["last_error"]
                )
            finally:
                lock.rollback()
                lock.close()
            assert status == 503
            assert any(
                p.startswith("dispatcher failing: ") and "database is locked" in p
                for p in body["problems"]
            )
            _, body = await until(http, url, lambda s, b: b["status"] == "ok")
            assert "database is locked" in body["service"]["dispatcher"]["last_error"]


async def test_a_dead_worker_on_redis_with_queued_messages_is_503(db: peewee.Database) -> None:
    with redis_namespace() as ns:
        settings = _settings(
            [{"name": "hv_dead", "kind": "telegram", "token": "1:abc"}], REDIS_URL, ns
        )
        sync_bots([("hv_dead", "telegram")])
        # What a SIGKILLed worker process leaves: its lease, no longer renewed.
        old = utcnow() - dt.timedelta(seconds=settings.delivery.lease_s * 3)
        leases.register("deadhost:4242:abcdef", host="deadhost", pid=4242, threads=8, now=old)
        async with serving(settings) as url, aiohttp.ClientSession() as http:
            status, body = await verbose(http, url)
            assert status == 200 and body["status"] == "degraded"  # nothing waits yet
            assert "no worker process alive" in body["problems"]
            client, _ = get_or_create_client(Bot.get(Bot.name == "hv_dead"), "701")
            outbox.enqueue(client, "waiting")
            status, body = await verbose(http, url)
            assert status == 503 and body["deliverable"] is False
            assert body["service"]["workers"] == [] and body["service"]["oldest_queued_s"] >= 0
            # A live worker (its lease renewed now) makes it deliverable again.
            leases.register("livehost:1:abcdef", host="livehost", pid=1, threads=4)
            status, body = await verbose(http, url)
            assert status == 200
            assert [(w["host"], w["threads"]) for w in body["service"]["workers"]] == [
                ("livehost", 4)
            ]


async def test_ops_header_turns_red_and_reads_at_375px_in_chromium(
    pg_db: peewee.Database, tmp_path: Path
) -> None:
    # Retries 30 s apart: the retried row cannot fail for good again while the page is checked.
    settings = _settings([_unreachable_bot("hv_page", "polling")], backoff_s=30)
    sync_bots([("hv_page", "telegram")])
    client, _ = get_or_create_client(Bot.get(Bot.name == "hv_page"), "702")
    failed = outbox.enqueue(client, "a reply that failed")
    outbox.claim(failed.id)
    outbox.mark_failed(failed.id, "PermanentError", "Bad Request: message is too long")
    async with serving(settings, channels=True) as url, aiohttp.ClientSession() as http:
        await until(http, url, lambda s, b: _bot(b, "hv_page")["problems"])
        async with chromium(tmp_path) as browser:
            page = await browser.new_page()
            await page.set_viewport_size({"width": 375, "height": 800})
            await page.goto(f"{url}/ops?token={TOKEN}")
            header = page.locator("header#header")
            assert await header.get_attribute("class") == "failing"
            color = await header.evaluate("e => getComputedStyle(e).backgroundColor")
            assert color == "rgb(176, 0, 32)"
            verdict = await page.locator("#verdict").inner_text()
            assert "hv_page: ingest (polling) failing: deleteWebhook failed" in verdict
            row = await page.locator("#bot-health tr", has_text="hv_page").inner_text()
            assert "polling disconnected" in row and "MSK" in row  # the project's zone
            assert await page.locator("meta[name=viewport]").count() == 1
            assert await page.locator("#bot-health thead th[scope=col]").count() == 8
            widths = await page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1] == 375
            # The failed send, with its code and a Retry now that works.
            failed_row = page.locator("#errors tr", has_text="a reply that failed")
            assert "message is too long" in await failed_row.inner_text()
            await page.get_by_role("button", name=f"Retry message {failed.id} now").click()
            await page.wait_for_url(f"{url}/ops?retried={failed.id}")
            assert "queued again" in await page.locator("#notice").inner_text()
            assert await page.locator(f"button[name=retry-{failed.id}]").count() == 0
            assert outbox.Message.get_by_id(failed.id).status != "failed"
