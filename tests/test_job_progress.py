"""One progress rule everywhere: a job reads the same in ``jobs show --json``, ``jobs list``,
``jobs show``, the admin bot's progress message and the /ops jobs table (numbers parsed back
out of each), and its parts always add up to its total."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import peewee
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.admin.progress import render_progress
from commands.jobs import LIST_HEADER, list_line, show_line
from commands.ops_health_page import table
from commands.ops_jobs import JOB_HEADERS, confirm_page, job_row
from store import jobs, outbox
from store.inbound import get_or_create_client
from store.models import Bot, Client, Message
from store.setup import sync_bots
from tests.conftest import run_cli

ZONE = dt.timezone(dt.timedelta(hours=3))
PARTS = ("total", "sent", "failed", "skipped", "cancelled", "remaining")
FIGURES = (*PARTS, "attempted", "planned", "percent")


def _ratio(text: str) -> dict[str, int]:
    """``attempted/planned (n%)`` read back."""
    m = re.search(r"(\d+)/(\d+) \((\d+)%\)", text)
    assert m is not None, text
    return dict(zip(("attempted", "planned", "percent"), map(int, m.groups()), strict=True))


def from_show(line: str) -> dict[str, int]:
    found = {k: int(v) for k, v in re.findall(r"\b(\w+) (\d+)\b", line.split(": ", 1)[1])}
    return {k: found[k] for k in PARTS} | _ratio(line)


def from_list(header: str, line: str) -> dict[str, int]:
    cells = dict(zip(header.split("\t"), line.split("\t"), strict=True))
    return {k: int(cells[k]) for k in PARTS} | _ratio(cells["progress"])


def from_admin(text: str) -> dict[str, int]:
    found = {
        k: int(v) for k, v in re.findall(r"\b(sent|failed|left|of|skipped|cancelled) (\d+)", text)
    }
    done = re.search(r"(\d+)/(\d+) done", text)
    share = re.search(r"\((\d+)%\)", text)
    assert done is not None and share is not None, text
    return {
        "total": found["of"],
        "sent": found["sent"],
        "failed": found["failed"],
        "skipped": found["skipped"],
        "cancelled": found["cancelled"],
        "remaining": found["left"],
        "attempted": int(done.group(1)),
        "planned": int(done.group(2)),
        "percent": int(share.group(1)),
    }


def from_ops(html: str) -> dict[str, int]:
    """The /ops jobs table's one row: every cell by its header, the bar by its attributes."""
    heads = re.findall(r'<th scope="col">([^<]*)</th>', html)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", html)]
    row = dict(zip(heads, cells, strict=True))
    bar = re.search(r'<progress max="(\d+)" value="(\d+)"', html)
    assert bar is not None, html
    figures = {k: int(row[k]) for k in PARTS} | _ratio(row["progress"])
    if figures["planned"]:  # the bar is the same fraction
        assert (int(bar.group(2)), int(bar.group(1))) == (figures["attempted"], figures["planned"])
    return figures


def every_reading(p: jobs.Progress) -> list[dict[str, int]]:
    """The job as each front end shows it (the CLI's lines, the admin bot, /ops)."""
    as_json = p.as_json(ZONE)
    return [
        {k: as_json[k] for k in FIGURES},
        from_show(show_line(p, ZONE)),
        from_list(LIST_HEADER, list_line(p, ZONE)),
        from_admin(render_progress(p).text or ""),
        from_ops(table(JOB_HEADERS, [job_row(p, ZONE, cancel=False)], "jobs", "")),
    ]


def _clients(n: int) -> tuple[Bot, list[Client]]:
    sync_bots([("tg", "telegram")])
    bot = Bot.get(Bot.name == "tg")
    return bot, [get_or_create_client(bot, str(500 + i))[0] for i in range(n)]


def _job_ids(job_id: int) -> list[int]:
    return [m.id for m in Message.select().where(Message.job == job_id).order_by(Message.id)]


def _cancelled_midway() -> int:
    """10 clients, 2 blocked; 3 sent, 1 failed, 1 being sent, then cancelled."""
    bot, clients = _clients(10)
    Client.update(blocked=True).where(Client.id.in_([c.id for c in clients[:2]])).execute()
    job = jobs.create_broadcast(Client.select(), "Sale", steps={bot.id: 0})
    ids = _job_ids(job.id)
    for i in ids[:3]:
        outbox.claim(i)
        outbox.mark_sent(i, f"p{i}")
    outbox.claim(ids[3])
    outbox.mark_failed(ids[3], "400", "chat not found")
    outbox.claim(ids[4])
    jobs.cancel(job.id)
    return job.id


EXPECTED = {
    "total": 10,
    "sent": 3,
    "failed": 1,
    "skipped": 2,
    "cancelled": 3,
    "remaining": 1,
    "attempted": 4,
    "planned": 8,
    "percent": 50,
}


def test_a_job_cancelled_midway_reads_the_same_everywhere(
    db: peewee.Database, db_url: str, tmp_path: Path
) -> None:
    job_id = _cancelled_midway()
    p = jobs.progress(job_id)
    assert p.state == "cancelled"
    for reading in every_reading(p):
        assert reading == EXPECTED
    # And from the shell, as a user runs it, on the same database.
    config = f'database_url: "{db_url}"\nbots:\n  - {{name: tg, kind: telegram, token: "1:a"}}\n'
    (tmp_path / "config.yaml").write_text(config)
    shown = run_cli("jobs", "show", str(job_id), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert {k: json.loads(shown.stdout)[k] for k in FIGURES} == EXPECTED
    header, line = run_cli("jobs", "list", cwd=tmp_path).stdout.splitlines()
    assert from_list(header, line) == EXPECTED
    assert from_show(run_cli("jobs", "show", str(job_id), cwd=tmp_path).stdout) == EXPECTED
    # Sending finishes the last row: cancelled stays 3, the share reaches 5 of 8.
    outbox.mark_sent(_job_ids(job_id)[-1], "p")
    after = jobs.progress(job_id)
    assert (after.sent, after.remaining, after.cancelled, after.percent) == (4, 0, 3, 62)


def test_skipped_and_failed_rows_of_a_finished_job(db: peewee.Database) -> None:
    bot, clients = _clients(6)
    Client.update(unsubscribed=True).where(Client.id == clients[0].id).execute()
    Client.update(blocked=True).where(Client.id == clients[1].id).execute()
    job = jobs.create_broadcast(Client.select(), "Hi", steps={bot.id: 0})
    for n, i in enumerate(_job_ids(job.id)):
        outbox.claim(i)
        if n % 2:
            outbox.mark_failed(i, "403", "blocked by the user")
        else:
            outbox.mark_sent(i, f"p{i}")
    jobs.refresh_running()
    p = jobs.progress(job.id)
    assert p.state == "done"
    want = dict(zip(FIGURES, (6, 2, 2, 2, 0, 0, 4, 4, 100), strict=True))
    for reading in every_reading(p):
        assert reading == want


def test_a_job_with_everyone_skipped_is_done_at_100_percent(db: peewee.Database) -> None:
    bot, _ = _clients(2)
    Client.update(blocked=True).execute()
    p = jobs.progress(jobs.create_broadcast(Client.select(), "Hi", steps={bot.id: 0}).id)
    want = dict(zip(FIGURES, (2, 0, 0, 2, 0, 0, 0, 0, 100), strict=True))
    assert p.state == "done"
    for reading in every_reading(p):
        assert reading == want


FATES = ["skipped", "queued", "sending", "sent", "delivered", "read", "failed", "cancelled"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fates=st.lists(st.sampled_from(FATES), max_size=12), cancel=st.booleans())
def test_the_parts_add_up_to_the_total_everywhere(
    db: peewee.Database, fates: list[str], cancel: bool
) -> None:
    _, clients = _clients(12)
    chosen = clients[: len(fates)]
    Client.update(blocked=False).execute()
    skipped = [c.id for c, f in zip(chosen, fates, strict=False) if f == "skipped"]
    Client.update(blocked=True).where(Client.id.in_(skipped)).execute()
    ids = [c.id for c in chosen]
    job = jobs.create_broadcast(Client.select().where(Client.id.in_(ids)), "x", steps={})
    rows: Any = Message.select(Message.id, Message.client).where(Message.job == job.id)
    fate_of = {c.id: f for c, f in zip(chosen, fates, strict=False)}
    for row in rows:
        fate = fate_of[row.client_id]
        if fate == "cancelled":
            Message.delete().where(Message.id == row.id).execute()
        elif fate != "queued":
            Message.update(status=fate).where(Message.id == row.id).execute()
    if cancel:
        jobs.cancel(job.id)
    p = jobs.progress(job.id)
    counted = {f: fates.count(f) for f in FATES}
    assert p.total == len(fates) and p.skipped == counted["skipped"]
    assert p.sent == counted["sent"] + counted["delivered"] + counted["read"]
    assert p.failed == counted["failed"]
    queued_left = 0 if cancel else counted["queued"]
    assert p.remaining == queued_left + counted["sending"]
    readings = every_reading(p)
    for reading in readings:
        assert reading == readings[0]
        assert sum(reading[k] for k in PARTS[1:]) == reading["total"]
        assert 0 <= reading["percent"] <= 100
        # 100 % exactly when nothing is left or cancelled.
        assert (reading["percent"] == 100) == (reading["remaining"] + reading["cancelled"] == 0)


def test_ops_asks_before_cancelling_and_shows_the_same_figures(db: peewee.Database) -> None:
    bot, _ = _clients(4)
    job = jobs.create_broadcast(Client.select(), "Hi", steps={bot.id: 0})
    asking = confirm_page(jobs.progress(job.id), "c5rf", ZONE, "")
    assert 'name="confirm" value="yes"' in asking and 'value="c5rf"' in asking
    assert "Its 4 messages not yet sent will not be sent" in asking
    assert from_ops(asking)["remaining"] == 4
    jobs.cancel(job.id)
    done = confirm_page(jobs.progress(job.id), "c5rf", ZONE, "")
    assert 'name="confirm"' not in done and "is cancelled: there is nothing to cancel" in done
    assert from_ops(done) == dict(zip(FIGURES, (4, 0, 0, 0, 4, 0, 0, 4, 0), strict=True))


def test_a_list_of_jobs_is_read_with_two_queries(db: peewee.Database) -> None:
    """Set-based: no query per job or per row, however many jobs are listed."""
    bot, _ = _clients(3)
    made = [jobs.create_broadcast(Client.select(), f"m{i}", steps={bot.id: 0}).id for i in range(6)]
    jobs.cancel(made[2])
    statements: list[str] = []
    execute = db.execute_sql

    def counting(sql: str, *args: Any, **kwargs: Any) -> Any:
        statements.append(sql)
        return execute(sql, *args, **kwargs)

    db.execute_sql = counting  # type: ignore[method-assign]
    try:
        listed = jobs.list_jobs(limit=5)
        some = jobs.progress_many([made[2], made[0], 999])
    finally:
        del db.execute_sql
    assert len(statements) == 4, statements
    assert [p.id for p in listed] == made[:0:-1]
    assert [(p.id, p.state, p.cancelled) for p in some] == [
        (made[2], "cancelled", 3),
        (made[0], "running", 0),
    ]
