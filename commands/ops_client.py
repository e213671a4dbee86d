"""``/ops/clients/N``: a read-only card of one client for the on-call engineer who followed an
error's link: the card's fields (``store.clients.details``) and the last messages both ways,
each with its delivery state and error. Nothing here changes anything."""

from __future__ import annotations

import datetime as dt
from html import escape

from aiohttp import web

from bots.webhook import store_call
from commands.ops_auth import AUTH_KEY
from commands.ops_health_page import at, table
from commands.ops_page import document
from commands.web import SETTINGS_KEY
from store.clients.details import ClientDetails, client_details
from store.models import Message

MESSAGES_SHOWN = 30
TEXT_CHARS = 300


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _read(client_id: int, zone: dt.tzinfo) -> tuple[ClientDetails, list[Message]] | None:
    found = client_details([client_id], zone)
    if not found:
        return None
    messages = list(
        Message.select()
        .where(Message.client == client_id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(MESSAGES_SHOWN)
    )
    return found[0], messages


def _card(c: ClientDetails, zone: dt.tzinfo) -> str:
    flags = [f for f, on in (("blocked", c.blocked), ("unsubscribed", c.unsubscribed)) if on]
    flags += [f for f, on in (("paused", c.paused), ("unread", c.unread)) if on]
    fields = [
        ("name", c.name),
        ("bot", f"{c.bot} ({c.messenger})"),
        ("messenger id", c.messenger_id),
        ("first contact", at(c.created_at, zone)),
        ("last action", at(c.last_action_at, zone)),
        ("block", c.block or "—"),
        ("responsible", c.responsible or "—"),
        ("flags", ", ".join(flags) or "none"),
        ("lists", ", ".join(c.lists) or "—"),
        ("labels", ", ".join(c.labels) or "—"),
    ]
    fields += [(f"variable {k}", v) for k, v in c.variables.items()]
    rows = "".join(f'<tr><th scope="row">{_e(k)}</th><td>{_e(v)}</td></tr>' for k, v in fields)
    return f'<div class="scroll"><table id="card"><tbody>{rows}</tbody></table></div>'


def _message_row(m: Message, zone: dt.tzinfo) -> list[str]:
    text = " ".join((m.text or "").split())
    if len(text) > TEXT_CHARS:
        text = text[: TEXT_CHARS - 1] + "…"
    error = f"{m.error_code}: {m.error_text or ''}" if m.error_code else ""
    return [
        _e(at(m.created_at, zone)),
        _e(m.id),
        "in" if m.direction == "in" else "out",
        _e(m.author_kind),
        _e(text),
        _e(m.status or ""),
        f'<span class="bad">{_e(error)}</span>' if error else "",
    ]


def render_client(c: ClientDetails, messages: list[Message], zone: dt.tzinfo) -> str:
    history = table(
        ["when", "message", "way", "author", "text", "state", "error"],
        [_message_row(m, zone) for m in messages],
        "messages",
        "No messages.",
    )
    body = (
        f'<p><a href="/ops">← ops</a></p><h1>{_e(c.name or "Client")} (#{c.client_id})</h1>'
        f"{_card(c, zone)}<h2>Last {MESSAGES_SHOWN} messages (newest first)</h2>{history}"
    )
    return document(f"Client {c.client_id}", body)


async def client_page(request: web.Request) -> web.Response:
    request.app[AUTH_KEY].guard(request)
    raw = request.match_info["client_id"]
    if not raw.isdigit():
        raise web.HTTPNotFound(text="ops: a client id is a number")
    zone = request.app[SETTINGS_KEY].zone
    found = await store_call(_read, int(raw), zone)
    if found is None:
        raise web.HTTPNotFound(text=f"ops: no client {raw}")
    html = render_client(*found, zone)
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


def install_client_page(app: web.Application) -> None:
    app.router.add_get(r"/ops/clients/{client_id}", client_page)
