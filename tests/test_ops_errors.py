"""``/ops``' failed and retried sends: context for each (bot, client, text, code, attempts, next
attempt) newest first, and Retry now on a failed row, over real HTTP on SQLite and PostgreSQL
with the real Redis broker (no worker runs, so the handed-over row stays on its queue)."""

from __future__ import annotations

import datetime as dt
import re

import aiohttp
import peewee

from commands.delivery import ENGINE_KEY
from store import outbox
from store.clock import utcnow
from store.inbound import get_or_create_client
from store.models import Bot, Message
from store.setup import sync_bots
from tests.services import REDIS_URL, redis_namespace
from tests.test_ops import TOKEN, _settings, serving
from workers.engine import Engine
from workers.queues import depths

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _rows(page: str) -> list[str]:
    table = page.split('id="errors"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)


async def test_failed_and_retried_sends_with_context_and_retry_now(db: peewee.Database) -> None:
    sync_bots([("shop_tg", "telegram")])
    bot = Bot.get(Bot.name == "shop_tg")
    client, _ = get_or_create_client(bot, "900")
    client.name = "Анна <Shop>"
    client.save()
    failed = outbox.enqueue(client, "Your order   #12\nis ready, come and get it " + "x" * 100)
    outbox.claim(failed.id)
    outbox.mark_failed(failed.id, "400", "Bad Request: chat not found", now=utcnow())
    retried = outbox.enqueue(client, "second")
    outbox.claim(retried.id)
    later = utcnow() + dt.timedelta(minutes=5)
    outbox.retry_later(retried.id, later, "131056", "pair rate limit hit", now=utcnow())
    with redis_namespace() as ns:
        async with serving(_settings(REDIS_URL, ns)) as (url, app), aiohttp.ClientSession() as http:
            engine = app[ENGINE_KEY]
            assert isinstance(engine, Engine)
            async with http.get(f"{url}/ops", headers=BEARER) as r:
                page = await r.text()
            newest, older = _rows(page)
            # Newest first: the retried row, then the failed one.
            assert f"<td>{retried.id}</td>" in newest and "retrying" in newest
            assert "131056" in newest and "pair rate limit hit" in newest
            assert later.strftime("%H:%M:%S") in newest  # the project's zone is UTC here
            assert "Retry now" not in newest
            assert "Анна &lt;Shop&gt; (#" in older and "Your order #12 is ready" in older
            assert "x" * 80 not in older and "…" in older  # an excerpt, one line
            assert "chat not found" in older and ">400<" in older
            assert f'aria-label="Retry message {failed.id} now"' in older
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
            assert csrf is not None
            retry = f"{url}/ops/messages/{failed.id}/retry"
            async with http.post(retry, headers=BEARER, data={"csrf": "x"}) as r:
                assert r.status == 403
            form = {"csrf": csrf.group(1)}
            async with http.post(retry, headers=BEARER, data=form, allow_redirects=False) as r:
                assert r.headers["Location"] == f"/ops?retried={failed.id}"
            row = Message.get_by_id(failed.id)
            assert (row.status, row.attempts) == ("queued", 0)
            assert depths(engine).ready == 1  # handed to the broker
            # A second click (or a colleague's) changes nothing more.
            async with http.post(retry, headers=BEARER, data=form, allow_redirects=False) as r:
                assert r.headers["Location"] == f"/ops?not_failed={failed.id}"
            assert depths(engine).ready == 1
            async with http.get(f"{url}/ops?retried={failed.id}", headers=BEARER) as r:
                assert f"Message {failed.id} is queued again" in await r.text()
            async with http.post(f"{url}/ops/messages/abc/retry", headers=BEARER, data=form) as r:
                assert r.status == 404
