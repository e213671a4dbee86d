"""The jobs part of ``/ops``: a job's row and the page that confirms its Cancel.

Both render ``store.jobs.Progress`` as the CLI and the admin bot do (docs/operations.md, "Job
progress"): the bar is ``attempted`` (sent + failed) of ``planned`` (total - skipped), so a
job cancelled midway shows a bar that stops where it stopped, and its cancelled count.

Cancel is two steps without scripts: the row's Cancel is a GET to ``/ops/jobs/N/cancel``,
which shows the job's figures and a POST form (CSRF token and ``confirm=yes``); only that
POST cancels.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from commands.ops_auth import CONFIRM
from commands.ops_health_page import at, table
from store.jobs import ACTIVE_STATES, Progress

JOB_HEADERS = ["job", "kind", "state", "progress", "total", "sent", "failed", "skipped"]
JOB_HEADERS += ["cancelled", "remaining", "filter", "created"]


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def bar(p: Progress) -> str:
    """``<progress>`` of ``attempted`` over ``planned``, then ``attempted/planned (n%)``."""
    return (
        f'<progress max="{max(1, p.planned)}" value="{p.attempted if p.planned else 1}" '
        f'aria-label="Job {p.id}: {p.percent}% done"></progress> {_e(p.ratio)}'
    )


def job_row(p: Progress, zone: dt.tzinfo, *, cancel: bool) -> list[str]:
    """A job's cells (``JOB_HEADERS``), plus a Cancel that asks first when ``cancel``."""
    figures = (p.total, p.sent, p.failed, p.skipped, p.cancelled, p.remaining)
    cells = [f'<a href="/ops/jobs/{p.id}">{p.id}</a>', _e(p.kind), _e(p.state), bar(p)]
    cells += [f'<span class="num">{n}</span>' for n in figures]
    cells += [_e(p.filter_text or "(all)"), _e(at(p.created_at, zone))]
    if cancel:
        cells.append(
            f'<form method="get" action="/ops/jobs/{p.id}/cancel">'
            f'<button type="submit" name="cancel-{p.id}" aria-label="Cancel job {p.id}">'
            "Cancel</button></form>"
        )
    return cells


def confirm_page(p: Progress, csrf: str, zone: dt.tzinfo, style: str) -> str:
    """Asks to confirm cancelling job ``p``: its figures, Yes (POST) and Keep it (back)."""
    figures = table([*JOB_HEADERS], [job_row(p, zone, cancel=False)], "job", "")
    if p.state in ACTIVE_STATES:
        question = (
            f"<p>Cancel job {p.id}? Its {p.remaining} messages not yet sent will not be sent; "
            "sends in progress finish.</p>"
            f'<form method="post" action="/ops/jobs/{p.id}/cancel">'
            f'<input type="hidden" name="csrf" value="{_e(csrf)}">'
            f'<button type="submit" name="confirm" value="{CONFIRM}" '
            f'aria-label="Yes, cancel job {p.id}">Yes, cancel job {p.id}</button></form>'
            '<p><a href="/ops" id="keep">No, keep it running</a></p>'
        )
    else:
        question = f"<p>Job {p.id} is {_e(p.state)}: there is nothing to cancel.</p>"
        question += '<p><a href="/ops" id="keep">Back to ops</a></p>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cancel job {p.id} · Switchboard ops</title><style>{style}</style></head>
<body><main><h1>Cancel job {p.id}?</h1>{figures}{question}</main></body></html>
"""
