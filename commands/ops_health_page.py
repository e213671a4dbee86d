"""The health part of ``/ops``: the verdict, the service's parts and one row per bot.

Every value is escaped; times are shown in the project's zone with its offset (``zone``).
"""

from __future__ import annotations

import datetime as dt
from html import escape

from commands.health import BotHealth, Health, ServiceHealth
from store.clock import from_timestamp, shown


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def at(value: dt.datetime | str | None, zone: dt.tzinfo, empty: str = "never") -> str:
    """A stored naive-UTC time in the project's zone with its name, to the second
    (``store.clock.shown``, as the CLI and the admin bot show times)."""
    return shown(value, zone, seconds=True, empty=empty)


def table(headers: list[str], rows: list[list[str]], table_id: str, empty: str) -> str:
    """A table with ``<thead>`` and ``scope="col"`` headers, in a box that scrolls sideways
    on a narrow screen instead of the page; cells are HTML already."""
    if not rows:
        return f'<p id="{table_id}" class="muted">{_e(empty)}</p>'
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _ok(good: bool, text: str) -> str:
    return f'<span class="{"ok" if good else "bad"}">{_e(text)}</span>'


def _ingest(b: BotHealth, zone: dt.tzinfo) -> str:
    i = b.ingest
    if i is None:
        return '<span class="muted">no report yet</span>'
    if i.connected is None:
        state = f"{i.mode}, last hit {at(i.last_hit_at, zone)}"
    else:
        state = f"{i.mode} {'connected' if i.connected else 'disconnected'}"
    text = _ok(not i.failing, state)
    if i.last_error:
        text += f"<br><small>last error {_e(at(i.last_error_at, zone))}: {_e(i.last_error)}</small>"
    return text


def _send(b: BotHealth, zone: dt.tzinfo) -> str:
    text = _e(at(b.last_sent_at, zone))
    p = b.pulse
    if p.last_error_at is not None:
        error = f"{p.last_error_code}: {p.last_error_text}"
        text += f"<br><small>last error {_e(at(b.last_send_error_at, zone))}: {_e(error)}</small>"
    return text


def _bot_row(b: BotHealth, zone: dt.tzinfo) -> list[str]:
    recent = ", ".join(f"{code} ×{n}" for code, n in sorted(b.pulse.recent_codes.items()))
    verdict = "ok" if not b.problems else "; ".join(b.problems)
    if not b.enabled:
        verdict = "disabled"
    return [
        _e(b.name),
        _ok(not b.problems, verdict),
        _ingest(b, zone),
        _e(at(b.ingest.last_inbound_at if b.ingest else None, zone)),
        _send(b, zone),
        f"{b.learned_rate:.1f} / {b.rate_limit:g}",
        _e(at(b.paused_until, zone)) if b.paused_until else "not paused",
        _e(recent or "none"),
    ]


def _broker(s: ServiceHealth) -> str:
    text = f"{s.broker_mode}: {s.broker_state}"
    if s.broker_lost:
        text += f"; lost {s.broker_lost} queued messages"
    return text


def render_health(h: Health, zone: dt.tzinfo) -> str:
    """The verdict line, the service table, the workers table and the bots table."""
    s = h.service
    if h.ok:
        verdict = '<p id="verdict" class="ok">All parts healthy.</p>'
    else:
        items = "".join(f"<li>{_e(p)}</li>" for p in h.problems)
        word = "cannot deliver" if not h.deliverable else "degraded"
        verdict = f'<div id="verdict" class="bad"><strong>{word}</strong><ul>{items}</ul></div>'
    d = s.dispatcher
    dispatcher = f"last tick {at(s.dispatcher_last_tick_at, zone)}"
    if d.last_error:
        error_at = from_timestamp(d.last_error_at) if d.last_error_at is not None else None
        dispatcher += f"; last error {at(error_at, zone)}: {d.last_error}"
    write = f"write {s.write_ms:g} ms" if s.write_ms is not None else "write failed"
    oldest = "nothing queued" if s.oldest_queued_s is None else f"{s.oldest_queued_s:.0f} s"
    sweep = "has re-enqueued nothing since its records began"
    if d.last_sweep_at is not None:
        swept_at = at(from_timestamp(d.last_sweep_at), zone)
        sweep = f"re-enqueued {d.last_sweep_rows} stuck or lost messages at {swept_at}"
    service = table(
        ["part", "state"],
        [
            ["store", _ok(s.store_ok, f"{s.store_state}, {write}")],
            ["broker", _ok(s.broker_ok and not s.broker_lost, _broker(s))],
            ["dispatcher", _ok(not d.failing, dispatcher)],
            ["workers alive", _ok(bool(s.workers), str(len(s.workers)))],
            ["oldest queued message", _e(oldest)],
            ["sweep", _e(sweep)],
        ],
        "service",
        "",
    )
    workers = table(
        ["host", "pid", "threads", "last heartbeat"],
        [[_e(w.host), _e(w.pid), _e(w.threads), _e(at(w.heartbeat_at, zone))] for w in s.workers],
        "workers",
        "No worker process has renewed its lease recently.",
    )
    headers = ["bot", "health", "ingest", "last inbound", "last sent", "learned / limit msg/s"]
    headers += ["paused until", "errors (15 min)"]
    bots = table(
        headers,
        [_bot_row(b, zone) for b in h.bots],
        "bot-health",
        "No bots configured.",
    )
    return f"{verdict}<h2>Service</h2>{service}<h2>Workers</h2>{workers}<h2>Bots' health</h2>{bots}"
