"""``/ops/jobs/N``: a job's figures by the one progress rule, its filter and text, its plan and
progress per bot and its errors, over real HTTP on SQLite and PostgreSQL with the real Redis
broker (no worker runs: the test decides each row's outcome)."""

from __future__ import annotations

import re

import aiohttp
import peewee

from store import jobs, outbox
from store.inbound import get_or_create_client
from store.job_bots import parts_by_bot
from store.models import Bot, Client, Message
from store.setup import sync_bots
from tests.services import redis_namespace
from tests.test_job_progress import PARTS, from_ops
from tests.test_ops import TOKEN, serving
from tests.test_ops_actions import _settings

BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def test_a_jobs_page_shows_its_plan_per_bot_and_its_errors(db: peewee.Database) -> None:
    sync_bots([("shop_tg", "telegram"), ("shop_wa", "telegram")])
    tg, wa = Bot.get(Bot.name == "shop_tg"), Bot.get(Bot.name == "shop_wa")
    clients = [get_or_create_client(tg, str(100 + i))[0] for i in range(4)]
    clients += [get_or_create_client(wa, str(200 + i))[0] for i in range(2)]
    clients[0].blocked = True  # skipped at the start
    clients[0].save()
    job = jobs.create_broadcast(
        Client.select(),
        "Sale <today> " + "y" * 600,
        steps={tg.id: 2.0, wa.id: 10.0},
        filter_text="bot:shop_tg,shop_wa",
    )
    rows = {m.client_id: m.id for m in Message.select().where(Message.job == job.id)}
    sent, failed = rows[clients[1].id], rows[clients[4].id]
    outbox.claim(sent)
    outbox.mark_sent(sent, "p-1")
    outbox.claim(failed)
    outbox.mark_failed(failed, "403", "Forbidden: bot was blocked by the user")
    parts = {p.bot: p for p in parts_by_bot(job.id)}
    assert (parts["shop_tg"].sent, parts["shop_tg"].remaining) == (1, 2)
    assert (parts["shop_wa"].failed, parts["shop_wa"].remaining) == (1, 1)
    # The plan: shop_tg's rows 2 s apart, so its last is due 2 s after its next.
    tg_part = parts["shop_tg"]
    assert tg_part.next_due is not None and tg_part.last_due is not None
    assert (tg_part.last_due - tg_part.next_due).total_seconds() == 2.0
    with redis_namespace() as ns:
        async with serving(_settings(ns)) as (url, _), aiohttp.ClientSession() as http:
            async with http.get(f"{url}/ops", headers=BEARER) as r:
                assert f'<a href="/ops/jobs/{job.id}">{job.id}</a>' in await r.text()
            async with http.get(f"{url}/ops/jobs/{job.id}") as r:
                assert r.status == 401
            async with http.get(f"{url}/ops/jobs/{job.id}", headers=BEARER) as r:
                page = await r.text()
            for missing in ("999999", "x"):
                async with http.get(f"{url}/ops/jobs/{missing}", headers=BEARER) as r:
                    assert r.status == 404
    assert f"<h1>Job {job.id}: broadcast, running</h1>" in page
    figures = re.search(r'<table id="job">.*?</table>', page, re.S)
    assert figures is not None
    shown = from_ops(figures.group(0))
    stored = jobs.progress(job.id)
    assert shown["total"] == stored.total == 6 and shown["skipped"] == 1
    assert sum(shown[k] for k in PARTS[1:]) == shown["total"]
    assert f'aria-label="Cancel job {job.id}"' in page  # running: Cancel (asks first)
    assert "bot:shop_tg,shop_wa" in page and "Sale &lt;today&gt;" in page
    assert "y" * 600 not in page  # the text is cut
    tg_row = re.search(r"<tr><td>shop_tg</td>(.*?)</tr>", page)
    assert tg_row is not None
    assert re.findall(r"<td>(\d+)</td>", tg_row.group(1)) == ["3", "1", "0", "2"]
    errors = page.split('id="errors"', 1)[1]
    assert "Forbidden: bot was blocked" in errors and f"<td>{failed}</td>" in errors
    assert f'aria-label="Retry message {failed} now"' in errors
    # A finished job: no Cancel.
    jobs.cancel(job.id)
    with redis_namespace() as ns:
        async with (
            serving(_settings(ns)) as (url, _),
            aiohttp.ClientSession() as http,
            http.get(f"{url}/ops/jobs/{job.id}", headers=BEARER) as r,
        ):
            page = await r.text()
    assert "cancelled</h1>" in page and f'aria-label="Cancel job {job.id}"' not in page
