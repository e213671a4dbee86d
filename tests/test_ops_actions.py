"""``/ops``' error list filters, Cancel on a queued message, Delete on a dead letter, and the
read-only client card an error links to: over real HTTP, on SQLite and PostgreSQL, with the
real Redis broker (no worker runs, so queued rows stay queued)."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import aiohttp
import peewee

from commands.delivery import ENGINE_KEY
from config import Settings
from store import outbox
from store.clock import utcnow
from store.inbound import get_or_create_client
from store.models import Bot, Message
from store.setup import sync_bots
from tests.services import REDIS_URL, redis_namespace
from tests.test_ops import TOKEN, _seed, serving
from tests.test_ops_errors import _rows
from workers.engine import Engine
from workers.queues import dead_letters, depths

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _settings(namespace: str) -> Settings:
    return Settings.model_validate(
        {
            "broker_url": REDIS_URL,
            "ops_token": TOKEN,
            "bots": [
                {"name": "shop_tg", "kind": "telegram", "token": "1:abc"},
                {"name": "shop_wa", "kind": "telegram", "token": "2:abc"},
            ],
            "delivery": {"namespace": namespace},
        }
    )


def _error(bot: str, peer: str, code: str, ago_s: float, *, failed: bool = True) -> int:
    client, _ = get_or_create_client(Bot.get(Bot.name == bot), peer)
    row = outbox.enqueue(client, f"{bot} {code} {ago_s}")
    outbox.claim(row.id)
    at = utcnow() - dt.timedelta(seconds=ago_s)
    if failed:
        outbox.mark_failed(row.id, code, f"error {code}", now=at)
    else:
        outbox.retry_later(row.id, utcnow() + dt.timedelta(hours=1), code, f"error {code}", now=at)
    return row.id


def _csrf(page: str) -> dict[str, str]:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found is not None
    return {"csrf": found.group(1)}


async def test_the_error_list_filters_by_bot_code_and_window(db: peewee.Database) -> None:
    sync_bots([("shop_tg", "telegram"), ("shop_wa", "telegram")])
    made = {
        (bot, code, ago): _error(bot, f"{bot}{code}{ago}", code, ago)
        for bot, code, ago in itertools.product(
            ["shop_tg", "shop_wa"], ["429", "403"], [60, 2 * 3600, 3 * 24 * 3600]
        )
    }
    windows = {"": 10**9, "15m": 900, "1h": 3600, "24h": 86400, "7d": 7 * 86400}
    with redis_namespace() as ns:
        async with serving(_settings(ns)) as (url, _), aiohttp.ClientSession() as http:
            for bot, code, window in itertools.product(["", "shop_wa"], ["", "429"], windows):
                query = f"bot={bot}&code={code}&window={window}"
                async with http.get(f"{url}/ops?{query}", headers=BEARER) as r:
                    assert r.status == 200
                    page = await r.text()
                shown = {
                    int(m)
                    for row in (_rows(page) if 'id="errors"' in page else [])
                    for m in re.findall(r"^<td>[^<]*</td><td>(\d+)</td>", row)
                }
                expected = {
                    i
                    for (b, c, ago), i in made.items()
                    if (not bot or b == bot) and (not code or c == code) and ago < windows[window]
                }
                assert shown == expected, query
                if bot:
                    assert f'<option value="{bot}" selected>' in page
            for bad, why in [
                ("bot=nobody", "ops: unknown bot 'nobody': the configured bots are shop_tg"),
                ("window=2w", "ops: unknown window '2w': use one of 15m, 1h, 24h, 7d"),
                ("code=" + "x" * 65, "ops: an error code is at most 64 characters"),
            ]:
                async with http.get(f"{url}/ops?{bad}", headers=BEARER) as r:
                    assert r.status == 400
                    assert (await r.text()).startswith(why)


async def test_cancel_a_queued_message_asks_first(db: peewee.Database) -> None:
    sync_bots([("shop_tg", "telegram")])
    retried = _error("shop_tg", "900", "131056", 5, failed=False)
    with redis_namespace() as ns:
        async with serving(_settings(ns)) as (url, _), aiohttp.ClientSession() as http:
            async with http.get(f"{url}/ops", headers=BEARER) as r:
                page = await r.text()
            assert f'aria-label="Cancel message {retried}"' in page
            cancel = f"{url}/ops/messages/{retried}/cancel"
            async with http.get(cancel) as r:
                assert r.status == 401
            async with http.get(cancel, headers=BEARER) as r:
                asking = await r.text()
            assert f"Yes, cancel message {retried}" in asking
            form = _csrf(asking)  # the confirm page carries the form
            async with http.post(cancel, headers=BEARER, data=form, allow_redirects=False) as r:
                assert r.headers["Location"] == f"/ops/messages/{retried}/cancel"
            assert Message.get_by_id(retried).status == "queued"  # not without confirm=yes
            async with http.post(cancel, headers=BEARER, data={"csrf": "x", "confirm": "yes"}) as r:
                assert r.status == 403
            yes = form | {"confirm": "yes"}
            async with http.post(cancel, headers=BEARER, data=yes, allow_redirects=False) as r:
                assert r.headers["Location"] == f"/ops?message_cancelled={retried}"
            row = Message.get_by_id(retried)
            assert (row.status, row.error_code, row.next_attempt_at) == (
                "failed",
                "cancelled",
                None,
            )
            async with http.post(cancel, headers=BEARER, data=yes, allow_redirects=False) as r:
                assert r.headers["Location"] == f"/ops?not_queued={retried}"
            async with http.get(f"{url}/ops?message_cancelled={retried}", headers=BEARER) as r:
                page = await r.text()
            assert f"Message {retried} cancelled: it will not be sent." in page
            # Now a failed row: Retry now is offered instead of Cancel.
            assert f'aria-label="Retry message {retried} now"' in page
            assert f'aria-label="Cancel message {retried}"' not in page
            async with http.get(cancel, headers=BEARER) as r:
                assert "Only a queued message can be cancelled." in await r.text()


async def test_delete_a_dead_letter_asks_first_and_cancels_its_row(db: peewee.Database) -> None:
    with redis_namespace() as ns:
        async with serving(_settings(ns)) as (url, app), aiohttp.ClientSession() as http:
            engine = app[ENGINE_KEY]
            assert isinstance(engine, Engine)
            seeded = _seed(engine)
            key = dead_letters(engine)[0].key
            async with http.get(f"{url}/ops", headers=BEARER) as r:
                page = await r.text()
            assert f'aria-label="Delete dead letter of message {seeded["lost"]}"' in page
            delete = f"{url}/ops/dead/{key}/delete"
            async with http.get(delete, headers=BEARER) as r:
                asking = await r.text()
            assert f"Yes, delete the dead letter of message {seeded['lost']}" in asking
            form = _csrf(page)
            async with http.post(delete, headers=BEARER, data=form, allow_redirects=False) as r:
                assert r.headers["Location"].endswith(f"/ops/dead/{key}/delete")
            assert depths(engine).dead == 1
            yes = form | {"confirm": "yes"}
            async with http.post(delete, headers=BEARER, data=yes, allow_redirects=False) as r:
                assert r.headers["Location"] == f"/ops?deleted={seeded['lost']}"
            assert depths(engine).dead == 0
            row = Message.get_by_id(seeded["lost"])
            assert (row.status, row.error_code) == ("failed", "cancelled")
            # The sweep leaves a cancelled row alone.
            assert seeded["lost"] not in outbox.sweep(0, now=utcnow() + dt.timedelta(hours=1))
            async with http.post(delete, headers=BEARER, data=yes, allow_redirects=False) as r:
                assert r.headers["Location"] == "/ops?gone=1"


async def test_an_error_links_to_the_clients_card(db: peewee.Database) -> None:
    sync_bots([("shop_tg", "telegram")])
    bot = Bot.get(Bot.name == "shop_tg")
    client, _ = get_or_create_client(bot, "77")
    client.name = "Анна <b>"
    client.save()
    failed = _error("shop_tg", "77", "403", 30)
    with redis_namespace() as ns:
        async with serving(_settings(ns)) as (url, _), aiohttp.ClientSession() as http:
            async with http.get(f"{url}/ops", headers=BEARER) as r:
                page = await r.text()
            link = f'<a href="/ops/clients/{client.id}">Анна &lt;b&gt; (#{client.id})</a>'
            assert link in page
            async with http.get(f"{url}/ops/clients/{client.id}") as r:
                assert r.status == 401
            async with http.get(f"{url}/ops/clients/{client.id}", headers=BEARER) as r:
                card = await r.text()
            assert "<h1>Анна &lt;b&gt; (#" in card and "<td>shop_tg (telegram)</td>" in card
            assert f"<td>{failed}</td>" in card and "403: error 403" in card
            for missing in ("999999", "abc"):
                async with http.get(f"{url}/ops/clients/{missing}", headers=BEARER) as r:
                    assert r.status == 404
