"""Read-only views of the emulator's state over HTTP, for tools outside its event loop.

``GET /_emulator/chats/{chat_id}/messages?bot=<username>``: what bots sent to that chat, oldest
first, as JSON ``{"messages": [...]}``; each has ``bot`` (the bot's username), ``message_id``,
``date`` (Unix seconds), ``kind`` (text/photo/document), ``text`` (as now, after edits),
``buttons`` (``[{"text", "callback_data" or "url"}]``, row by row, flattened), ``edits`` (how
many times it was edited) and ``deleted``. Without ``bot``: every bot's messages. The demo's
``switchboard demo inbox`` reads it; no token is needed or shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from emulators.telegram.server import TelegramEmulator

CHAT_MESSAGES = "/_emulator/chats/{chat_id}/messages"


def chat_messages(emu: TelegramEmulator, request: web.Request) -> web.Response:
    """The messages bots sent to one chat (see the module doc); 400 for a chat id that is not
    a number."""
    try:
        chat_id = int(request.match_info["chat_id"])
    except ValueError:
        return web.json_response({"error": "chat id must be a number"}, status=400)
    wanted = request.query.get("bot")
    found: list[dict[str, Any]] = []
    for bot in emu.bots.values():
        if wanted is not None and wanted != bot.username:
            continue
        for message in bot.outgoing:
            if message.chat_id != chat_id:
                continue
            found.append(
                {
                    "bot": bot.username,
                    "message_id": message.message_id,
                    "date": message.date,
                    "kind": message.kind,
                    "text": message.text,
                    "buttons": [_button(b) for b in message.buttons()],
                    "edits": len(message.edits),
                    "deleted": message.deleted,
                }
            )
    found.sort(key=lambda m: (m["date"], m["message_id"]))
    return web.json_response({"messages": found})


def _button(button: dict[str, Any]) -> dict[str, Any]:
    return {k: button[k] for k in ("text", "callback_data", "url") if k in button}
