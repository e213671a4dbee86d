"""The ops dashboard as one server-rendered HTML page (no build step, no library).

Every value from the store or the broker is escaped. Buttons are POST forms that carry the
CSRF token (or GET forms to a page that asks first), so everything works without scripts;
a few lines of script make the page update itself (``commands.ops_live``). Health comes
first and turns the header red when any part fails; times are in the project's zone with its
offset; the page reads at 375 px (wide tables scroll inside their own box).
"""

from __future__ import annotations

import datetime as dt
from html import escape
from urllib.parse import quote

from commands.health import Health
from commands.ops_campaigns import campaigns_table
from commands.ops_charts import charts
from commands.ops_data import ErrorRow, OpsView
from commands.ops_health_page import at, render_health, table
from commands.ops_jobs import JOB_HEADERS, job_row
from commands.ops_live import LIVE_EVERY_S, NOSCRIPT_EVERY_S, SCRIPT

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}
main{padding:0 1em 1.5em}header{padding:.6em 1em;background:#1d6b35;color:#fff}
header.failing{background:#b00020}header a{color:#fff}header p{margin:.2em 0}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.1em;margin-top:1.6em}
.scroll{max-width:100%;overflow-x:auto}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}.num{text-align:right}.notice{background:#eef7ee;padding:.5em}
td{overflow-wrap:anywhere}code{white-space:pre-wrap;overflow-wrap:anywhere}
.charts{display:flex;flex-wrap:wrap;gap:1em}.chart{flex:1 1 300px;margin:0;min-width:0}
.chart svg{display:block;width:100%;height:120px;border:1px solid #ddd}
.axis{display:flex;justify-content:space-between;font-size:.85em;color:#555}
figcaption{font-size:.9em}h3{font-size:1em;margin:1em 0 .3em}
.bad{color:#a00}.ok{color:#1d6b35}.muted{color:#777}form{margin:0}
.filters{margin:.3em 0 .6em}.filters label{margin-right:.6em}
td form{display:inline-block;margin-right:.3em}
"""


BOT_HEADERS = ["bot", "kind", "enabled", "limit msg/s", "learned msg/s", "sent msg/s (10 s)"]
BOT_HEADERS += ["limiter", "platform 429s", "sent", "failed", "retried"]


UNPARSED_PREVIEW = 200  # characters of an unusable item shown; the table keeps 64 KiB


def _e(value: object) -> str:
    return escape(str(value), quote=True)


_table = table


def _button(action: str, label: str, csrf: str, name: str, spoken: str) -> str:
    """A POST form with one button; ``spoken`` is its name for a screen reader (a table full
    of "Cancel" buttons says nothing on its own)."""
    return (
        f'<form method="post" action="{_e(action)}">'
        f'<input type="hidden" name="csrf" value="{_e(csrf)}">'
        f'<button type="submit" name="{_e(name)}" aria-label="{_e(spoken)}">{_e(label)}'
        "</button></form>"
    )


def _ask_button(action: str, label: str, name: str, spoken: str) -> str:
    """A GET form leading to the page that asks to confirm a destructive action."""
    return (
        f'<form method="get" action="{_e(action)}">'
        f'<button type="submit" name="{_e(name)}" aria-label="{_e(spoken)}">{_e(label)}'
        "</button></form>"
    )


def _filter_form(view: OpsView) -> str:
    """The error list's filter: a GET form, so a filtered view is a link to share."""
    f = view.error_filter

    def option(value: str, label: str, chosen: str | None) -> str:
        selected = " selected" if value == (chosen or "") else ""
        return f'<option value="{_e(value)}"{selected}>{_e(label)}</option>'

    bots = option("", "all", f.bot) + "".join(option(b.name, b.name, f.bot) for b in view.bots)
    windows = option("", "any time", f.window) + "".join(
        option(key, label, f.window) for key, label in WINDOW_LABELS.items()
    )
    codes = "".join(f'<option value="{_e(c)}"></option>' for c in view.error_codes)
    clear = ' · <a href="/ops#errors-title" id="clear-filter">show all</a>' if f.active else ""
    return (
        '<form id="error-filter" method="get" action="/ops" class="filters">'
        f'<label>Bot <select name="bot">{bots}</select></label> '
        f'<label>Code <input name="code" size="10" list="error-codes" value="{_e(f.code or "")}">'
        f'<datalist id="error-codes">{codes}</datalist></label> '
        f'<label>When <select name="window">{windows}</select></label> '
        f'<button type="submit">Show</button>{clear}</form>'
    )


WINDOW_LABELS = {"15m": "last 15 min", "1h": "last hour", "24h": "last 24 h", "7d": "last 7 days"}


ERROR_HEADERS = ["when", "message", "bot", "client", "text", "state", "attempts", "next attempt"]
ERROR_HEADERS += ["code", "error", "action"]


def error_row(r: ErrorRow, csrf: str, zone: dt.tzinfo) -> list[str]:
    """A failed row (with Retry now) or a retried one (``queued`` again, with its next try)."""
    retrying = r.status == "queued"
    client = f"{r.client_name} (#{r.client_id})" if r.client_name else f"#{r.client_id}"
    action = ""
    if retrying:
        action = _ask_button(
            f"/ops/messages/{r.message_id}/cancel",
            "Cancel",
            f"cancel-message-{r.message_id}",
            f"Cancel message {r.message_id}",
        )
    if r.status == "failed":
        action = _button(
            f"/ops/messages/{r.message_id}/retry",
            "Retry now",
            csrf,
            f"retry-{r.message_id}",
            f"Retry message {r.message_id} now",
        )
    return [
        _e(at(r.at, zone)),
        _e(r.message_id),
        _e(r.bot),
        f'<a href="/ops/clients/{r.client_id}">{_e(client)}</a>',
        _e(r.excerpt),
        _e("retrying" if retrying else r.status),
        _e(r.attempts),
        _e(at(r.next_attempt_at, zone, empty="—")),
        f'<span class="bad">{_e(r.code)}</span>',
        _e(r.text),
        action,
    ]


def _sections(view: OpsView, csrf: str, zone: dt.tzinfo) -> str:
    """Everything below the health part (needs the store)."""
    bots = _table(
        BOT_HEADERS,
        [
            [
                _e(b.name),
                _e(b.kind),
                "yes" if b.enabled else '<span class="muted">no</span>',
                f"{b.rate_limit:g}",
                f"{b.learned_rate:.1f}",
                f"{b.rate_now:.1f}",
                _e(b.limiter_state),
                _e(b.refusals_text),
                str(b.sent),
                str(b.failed),
                str(b.retried),
            ]
            for b in view.bots
        ],
        "bots",
        "No bots configured.",
    )
    q = view.queues
    queues = _table(
        ["ready", "in flight", "delayed", "dead letters"],
        [[str(q.ready), str(q.in_flight), str(q.delayed), str(q.dead)]],
        "queues",
        "",
    )
    workers = _table(
        ["worker (host:pid:id)", "threads", "started", "heartbeat", "sending"],
        [
            [
                _e(w.worker_id),
                str(w.threads),
                _e(at(w.started_at, zone)),
                f"{w.heartbeat_age_s:.0f} s ago",
                str(w.sending),
            ]
            for w in view.workers
        ],
        "sending-processes",
        "No worker process has a live lease.",
    )
    statuses = sorted(view.outbox.items())
    outbox = _table(
        [s for s, _ in statuses], [[str(n) for _, n in statuses]], "outbox", "The outbox is empty."
    )
    active = _table(
        [*JOB_HEADERS, "action"],
        [job_row(p, zone, cancel=True) for p in view.active_jobs],
        "jobs",
        "No job is running.",
    )
    finished = _table(
        JOB_HEADERS,
        [job_row(p, zone, cancel=False) for p in view.finished_jobs],
        "finished-jobs",
        "No finished jobs.",
    )
    dead = _table(
        ["dead letter", "outbox message", "outbox status", "dead since", "action"],
        [
            [
                _e(d.letter.key),
                _e(d.letter.outbox_id if d.letter.outbox_id is not None else "?"),
                _e(d.status or "gone"),
                _e(at(d.letter.at, zone)),
                _button(
                    f"/ops/dead/{quote(d.letter.key, safe='')}/requeue",
                    "Requeue",
                    csrf,
                    f"requeue-{d.letter.key}",
                    f"Requeue dead letter of message {d.letter.outbox_id}",
                )
                + _ask_button(
                    f"/ops/dead/{quote(d.letter.key, safe='')}/delete",
                    "Delete",
                    f"delete-{d.letter.key}",
                    f"Delete dead letter of message {d.letter.outbox_id}",
                ),
            ]
            for d in view.dead
        ],
        "dead",
        "No dead letters.",
    )
    errors = _table(
        ERROR_HEADERS,
        [error_row(r, csrf, zone) for r in view.errors],
        "errors",
        "No failed or retried sends match."
        if view.error_filter.active
        else "No failed or retried sends.",
    )
    unparsed = _table(
        ["when", "bot", "channel", "reason", "detail", "item (start)"],
        [
            [
                _e(at(u.received_at, zone)),
                _e(u.bot),
                _e(u.channel),
                f'<span class="bad">{_e(u.reason)}</span>',
                _e(u.detail),
                f"<code>{_e(u.payload[:UNPARSED_PREVIEW])}</code>",
            ]
            for u in view.unparsed
        ],
        "unparsed",
        "No unusable inbound items in the last 7 days.",
    )
    return f"""<h2>Bots</h2>{bots}
<h2>History</h2>{charts(view.history, zone)}
<h2>Broker queues</h2>{queues}
<h2>Sending processes</h2>{workers}
<h2>Outbox by status</h2>{outbox}
<h2>Running jobs</h2>{active}
<h2>Campaigns</h2>{campaigns_table(view.campaigns, zone)}
<h2>Dead letters</h2>{dead}
<h2 id="errors-title">Failed and retried sends (newest first)</h2>{_filter_form(view)}{errors}
<h2>Unusable inbound items</h2>{unparsed}
<h2>Recently finished jobs</h2>{finished}"""


def render(
    view: OpsView | None,
    health: Health,
    zone: dt.tzinfo,
    csrf: str,
    notice: str | None = None,
    *,
    fragment: bool = False,
) -> str:
    """The page; ``view`` None (the store could not be read) shows the health part only.
    ``fragment``: only ``<header>`` and ``<main>``, what the page's live updates fetch
    (``commands.ops_live``)."""
    banner = f'<p class="notice" id="notice" role="status">{_e(notice)}</p>' if notice else ""
    body = _sections(view, csrf, zone) if view is not None else ""
    state = "" if health.ok else ' class="failing"'
    word = "healthy" if health.ok else health.status
    parts = f"""<header id="header"{state}><h1>Switchboard ops</h1>
<p id="status">Status: <strong>{_e(word)}</strong> · generated {_e(at(health.generated_at, zone))}
· <span id="live">live, every {LIVE_EVERY_S} s</span> · <a href="/ops">reload</a> ·
<a href="/metrics">metrics</a></p></header>
<main>{banner}
{render_health(health, zone)}
{body}
</main>"""
    if fragment:
        return parts
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<noscript><meta http-equiv="refresh" content="{NOSCRIPT_EVERY_S}"></noscript>
<title>Switchboard ops</title><style>{STYLE}</style></head>
<body>{parts}
{SCRIPT}</body></html>
"""


def document(title: str, body: str) -> str:
    """A page of ops besides the dashboard (a job, a client, a confirmation): ``body`` in
    ``<main>``, with the viewport tag and the dashboard's style."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} · Switchboard ops</title><style>{STYLE}</style></head>
<body><main>{body}</main></body></html>
"""


def login_page(message: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchboard ops</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{STYLE}</style></head><body><main><h1>Switchboard ops</h1>
<p class="bad" id="login-error">{_e(message)}</p>
<form method="get" action="/ops"><label>Ops token
<input type="password" name="token" autocomplete="current-password"></label>
<button type="submit">Open</button></form></main></body></html>
"""
