"""``/ops``' actions on one message and on one dead letter, each asking first where it destroys.

* Cancel a queued message (``/ops/messages/N/cancel``): GET shows the message and a form, the
  form's POST with ``confirm=yes`` cancels it (``store.outbox.cancel_queued``: failed, code
  ``cancelled``; Retry now still sends it).
* Delete a dead letter (``/ops/dead/KEY/delete``): the same two steps
  (``workers.queues.delete_dead``: the letter is gone and its row cancelled).

Without scripts: every button is a form; after the action the browser is sent back to
``/ops`` with a notice (``commands.ops.notice``).
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from aiohttp import web

from bots.webhook import store_call
from commands.ops_auth import AUTH_KEY, CONFIRM, checked_form, engine_of
from commands.ops_health_page import at, table
from commands.ops_page import document
from commands.web import SETTINGS_KEY
from store.models import Bot, Message
from workers.queues import dead_letters, delete_dead


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def confirm_page(
    title: str, details: str, question: str, action: str | None, button: str, csrf: str
) -> str:
    """A page asking ``question`` about what ``details`` shows: ``button`` POSTs ``action``
    with ``confirm=yes`` (None: nothing to do, only the way back); a link goes back to
    ``/ops`` unchanged."""
    form = ""
    if action is not None:
        form = (
            f'<form method="post" action="{_e(action)}">'
            f'<input type="hidden" name="csrf" value="{_e(csrf)}">'
            f'<button type="submit" name="confirm" value="{CONFIRM}">{_e(button)}</button></form>'
        )
    body = f"<h1>{_e(title)}</h1>{details}<p>{_e(question)}</p>{form}"
    return document(title, body + '<p><a href="/ops" id="keep">Back to ops</a></p>')


def _message_id(request: web.Request) -> int:
    try:
        return int(request.match_info["message_id"])
    except ValueError:
        raise web.HTTPNotFound(text="ops: a message id is a number") from None


def _message(message_id: int) -> tuple[Message, str] | None:
    row = Message.get_or_none((Message.id == message_id) & (Message.direction == "out"))
    if row is None:
        return None
    bot = Bot.get_or_none(Bot.id == row.bot_id)
    return row, bot.name if bot else "?"


async def confirm_cancel_message(request: web.Request) -> web.Response:
    """GET ``/ops/messages/N/cancel``: the queued message and the form that cancels it."""
    auth = request.app[AUTH_KEY]
    auth.guard(request)
    message_id = _message_id(request)
    found = await store_call(_message, message_id)
    if found is None:
        raise web.HTTPNotFound(text=f"ops: no outbound message {message_id}")
    row, bot = found
    zone = request.app[SETTINGS_KEY].zone
    details = table(
        ["message", "bot", "client", "state", "attempts", "next attempt", "text"],
        [
            [
                _e(row.id),
                _e(bot),
                f'<a href="/ops/clients/{row.client_id}">#{row.client_id}</a>',
                _e(row.status),
                _e(row.attempts),
                _e(at(row.next_attempt_at, zone, empty="—")),
                _e((row.text or "")[:200]),
            ]
        ],
        "message",
        "",
    )
    if row.status != "queued":
        question = "Only a queued message can be cancelled."
        page = confirm_page(f"Message {row.id} is {row.status}", details, question, None, "", "")
        return web.Response(text=page, content_type="text/html")
    page = confirm_page(
        f"Cancel message {row.id}?",
        details,
        "It will not be sent; it is marked failed with code cancelled (Retry now still sends it).",
        f"/ops/messages/{row.id}/cancel",
        f"Yes, cancel message {row.id}",
        auth.csrf,
    )
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


async def cancel_message(request: web.Request) -> web.Response:
    """POST ``/ops/messages/N/cancel``: cancels only with ``confirm=yes``."""
    form = await checked_form(request)
    message_id = _message_id(request)
    if form.get("confirm") != CONFIRM:
        raise web.HTTPSeeOther(f"/ops/messages/{message_id}/cancel")
    from store.outbox import cancel_queued

    if not await store_call(cancel_queued, [message_id]):
        raise web.HTTPSeeOther(f"/ops?not_queued={message_id}")
    raise web.HTTPSeeOther(f"/ops?message_cancelled={message_id}")


async def confirm_delete_dead(request: web.Request) -> web.Response:
    """GET ``/ops/dead/KEY/delete``: the dead letter and the form that deletes it."""
    auth = request.app[AUTH_KEY]
    auth.guard(request)
    key = request.match_info["key"]
    letters = await store_call(dead_letters, engine_of(request))
    letter = next((d for d in letters if d.key == key), None)
    if letter is None:
        raise web.HTTPSeeOther("/ops?gone=1")
    zone = request.app[SETTINGS_KEY].zone
    details = table(
        ["dead letter", "outbox message", "dead since"],
        [[_e(letter.key), _e(letter.outbox_id or "?"), _e(at(letter.at, zone))]],
        "letter",
        "",
    )
    page = confirm_page(
        "Delete this dead letter?",
        details,
        f"Message {letter.outbox_id} will not be sent: it is marked failed with code cancelled "
        "(Retry now still sends it).",
        f"/ops/dead/{quote(key, safe='')}/delete",
        f"Yes, delete the dead letter of message {letter.outbox_id}",
        auth.csrf,
    )
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


async def delete_dead_letter(request: web.Request) -> web.Response:
    form = await checked_form(request)
    key = request.match_info["key"]
    if form.get("confirm") != CONFIRM:
        raise web.HTTPSeeOther(f"/ops/dead/{quote(key, safe='')}/delete")
    found, outbox_id = await store_call(delete_dead, engine_of(request), key)
    if not found:
        raise web.HTTPSeeOther("/ops?gone=1")
    raise web.HTTPSeeOther(f"/ops?deleted={outbox_id if outbox_id is not None else ''}")


def install_actions(app: web.Application) -> None:
    app.router.add_get(r"/ops/messages/{message_id}/cancel", confirm_cancel_message)
    app.router.add_post(r"/ops/messages/{message_id}/cancel", cancel_message)
    app.router.add_get(r"/ops/dead/{key}/delete", confirm_delete_dead)
    app.router.add_post(r"/ops/dead/{key}/delete", delete_dead_letter)
