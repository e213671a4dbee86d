"""``POST /webhooks/telegram/{bot_name}``: Telegram's webhook, and the media proxy.

Answers, in order: unknown bot -> 404; ``X-Telegram-Bot-Api-Secret-Token`` missing or wrong
(compared in constant time) -> 401; body over 1 MiB -> 413; malformed JSON, JSON beyond the
request limits or not an update (no integer ``update_id``) -> 400; an update we cannot use
(wrong shape or types inside, or data the database refuses: the updates sharing its write
batch are stored all the same) -> 200, kept as an unusable item (``bots.unusable``); the store
unavailable -> 503 (Telegram redelivers, nothing is lost); otherwise 200,
also for update kinds we don't use (so Telegram does not redeliver them forever). Nothing is
stored unless the request was accepted.

``GET /media/telegram/{bot_name}/{file_id}`` streams a file of the bot (avatars are stored as
these URLs: Telegram's own file URLs contain the token).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, get_args

from aiogram.exceptions import AiogramError, TelegramBadRequest
from aiohttp import web

from bots.ingest_health import note
from bots.telegram.client import file_url
from bots.telegram.fields import UpdateError
from bots.telegram.ingest import Outcome
from bots.webhook import error_response, parse_json_object, read_body, unavailable
from store.errors import NotFound, StoreUnavailable

if TYPE_CHECKING:
    from bots.telegram.adapter import TelegramAdapter

log = logging.getLogger("switchboard.telegram")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
ADAPTERS = web.AppKey("telegram_adapters", dict)
# The 200 answers, encoded once (one per outcome) rather than per request.
ANSWERS = {
    outcome: json.dumps({"ok": True, "result": outcome}).encode() for outcome in get_args(Outcome)
}


def webhook_path(bot_name: str) -> str:
    return f"/webhooks/telegram/{bot_name}"


def install(app: web.Application, adapter: TelegramAdapter) -> None:
    """Mount the Telegram routes once per app and register ``adapter`` under its name."""
    adapters = app.get(ADAPTERS)
    if adapters is None:
        adapters = app[ADAPTERS] = {}
        app.router.add_post("/webhooks/telegram/{bot_name}", receive)
        app.router.add_get("/media/telegram/{bot_name}/{file_id}", media)
    adapters[adapter.name] = adapter


async def receive(request: web.Request) -> web.Response:
    name = request.match_info["bot_name"]
    adapter: TelegramAdapter | None = request.app[ADAPTERS].get(name)
    if adapter is None:
        return error_response(404, f"no telegram bot named {name!r}")
    given = request.headers.get(SECRET_HEADER)
    if not given:
        return error_response(401, f"missing {SECRET_HEADER}")
    try:
        accepted = await adapter.secret_matches(given)
    except StoreUnavailable:
        return unavailable()
    if not accepted:
        return error_response(401, f"wrong {SECRET_HEADER}")
    data = parse_json_object(await read_body(request))
    try:
        outcome = await adapter.ingest.handle(data)
    except UpdateError as exc:
        return error_response(400, f"not a Telegram update: {exc}")
    except StoreUnavailable as exc:
        log.warning("telegram %s: store unavailable, Telegram will redeliver: %s", name, exc)
        await note(name, "webhook", ok=False, error=f"store unavailable: {exc}")
        return unavailable()
    except NotFound as exc:  # the store lacks the bot: serve syncs it at start; retry later
        log.error("telegram %s: %s", name, exc)
        return error_response(503, str(exc))
    await note(name, "webhook", inbound=True)
    return web.Response(body=ANSWERS[outcome], content_type="application/json")


async def media(request: web.Request) -> web.StreamResponse:
    name = request.match_info["bot_name"]
    adapter: TelegramAdapter | None = request.app[ADAPTERS].get(name)
    if adapter is None:
        return error_response(404, f"no telegram bot named {name!r}")
    bot = adapter.bot()
    try:
        file = await bot.get_file(request.match_info["file_id"])
    except TelegramBadRequest:
        return error_response(404, "no such file")
    except AiogramError as exc:
        return error_response(502, f"telegram: {type(exc).__name__}")
    if not file.file_path:
        return error_response(404, "no such file")
    response = web.StreamResponse(headers={"Cache-Control": "private, max-age=86400"})
    response.content_type = (
        "image/jpeg" if file.file_path.endswith(".jpg") else "application/octet-stream"
    )
    await response.prepare(request)
    async for chunk in bot.session.stream_content(
        file_url(bot, file.file_path), raise_for_status=True
    ):
        await response.write(chunk)
    await response.write_eof()
    return response
