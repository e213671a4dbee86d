"""``/ops/jobs/N``: one job on its own page — its figures (``store.jobs.Progress``, the one
progress rule), what it sends (filter, text), its plan and progress per bot
(``store.job_bots``: rows by outcome, when the remaining ones are due) and its failed and
retried sends with Retry now / Cancel as on ``/ops``. Cancel asks first (``commands.ops_jobs``).
"""

from __future__ import annotations

import datetime as dt
from html import escape

from aiohttp import web

from bots.webhook import store_call
from commands.ops_auth import AUTH_KEY
from commands.ops_data import ErrorFilter, ErrorRow, error_rows
from commands.ops_health_page import at, table
from commands.ops_jobs import JOB_HEADERS, job_row
from commands.ops_page import ERROR_HEADERS, document, error_row
from commands.web import SETTINGS_KEY
from store.errors import NotFound
from store.job_bots import BotPart, parts_by_bot
from store.jobs import ACTIVE_STATES, Progress, progress
from store.models import Job

TEXT_SHOWN = 500  # characters of the job's text on its page


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _read(job_id: int) -> tuple[Progress, dict[str, object], list[BotPart], list[ErrorRow]]:
    p = progress(job_id)
    payload = Job.get_by_id(job_id).payload or {}
    return p, payload, parts_by_bot(job_id), error_rows(ErrorFilter(), job_id=job_id)


def _plan(p: Progress, parts: list[BotPart], zone: dt.tzinfo) -> str:
    rows = [
        [
            _e(b.bot),
            str(b.rows),
            str(b.sent),
            str(b.failed),
            str(b.remaining),
            _e(at(b.next_due, zone, empty="—")),
            _e(at(b.last_due, zone, empty="—")),
        ]
        for b in parts
    ]
    return table(
        ["bot", "messages", "sent", "failed", "remaining", "next due", "last due (done by)"],
        rows,
        "job-bots",
        "No messages left in this job (cancelled before any was sent, or none planned).",
    )


def render_job(
    p: Progress,
    payload: dict[str, object],
    parts: list[BotPart],
    errors: list[ErrorRow],
    csrf: str,
    zone: dt.tzinfo,
) -> str:
    figures = table(
        [*JOB_HEADERS, *(["action"] if p.state in ACTIVE_STATES else [])],
        [job_row(p, zone, cancel=p.state in ACTIVE_STATES)],
        "job",
        "",
    )
    text = str(payload.get("text") or "")
    shown_text = text if len(text) <= TEXT_SHOWN else text[: TEXT_SHOWN - 1] + "…"
    subject = payload.get("subject")
    what = [
        ("filter", p.filter_text or "(all clients)"),
        ("spacing", f"{p.interval_s:g} s between messages of a bot (the slowest bot's)"),
        ("created", at(p.created_at, zone)),
    ]
    if subject:
        what.append(("subject", str(subject)))
    what.append(("text", shown_text))
    if p.error:
        what.append(("error", p.error))
    card = "".join(f'<tr><th scope="row">{_e(k)}</th><td>{_e(v)}</td></tr>' for k, v in what)
    errs = table(
        ERROR_HEADERS,
        [error_row(r, csrf, zone) for r in errors],
        "errors",
        "No failed or retried sends in this job.",
    )
    body = (
        f'<p><a href="/ops">← ops</a></p><h1>Job {p.id}: {_e(p.kind)}, {_e(p.state)}</h1>'
        f'{figures}<h2>What it sends</h2><div class="scroll"><table id="job-card"><tbody>{card}'
        f"</tbody></table></div><h2>Plan and progress per bot</h2>{_plan(p, parts, zone)}"
        f"<h2>Failed and retried sends (newest first)</h2>{errs}"
    )
    return document(f"Job {p.id}", body)


async def job_page(request: web.Request) -> web.Response:
    auth = request.app[AUTH_KEY]
    auth.guard(request)
    raw = request.match_info["job_id"]
    try:
        found = await store_call(_read, int(raw))
    except (ValueError, NotFound):
        raise web.HTTPNotFound(text=f"ops: no job {raw!r}") from None
    html = render_job(*found, auth.csrf, request.app[SETTINGS_KEY].zone)
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})
