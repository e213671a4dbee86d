"""The Bot API's non-message methods, and the table of every method the emulator serves.

Method names are case-insensitive, as in the Bot API. An unknown method answers 404
``Not Found``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from emulators.telegram import business, messages
from emulators.telegram.messages import photo_sizes
from emulators.telegram.model import ApiError, BotState, Webhook, bad_request
from emulators.telegram.params import Params

if TYPE_CHECKING:
    from emulators.telegram.server import TelegramEmulator

Handler = Callable[["TelegramEmulator", BotState, Params], Awaitable[Any]]

SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
CHAT_ACTIONS = frozenset(
    [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ]
)
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)


async def get_me(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    return {
        **bot.as_user(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }


def _allowed_updates(params: Params) -> list[str] | None:
    value = params.json_("allowed_updates")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request("can't parse allowed updates")
    return value or None


async def set_webhook(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    url = params.str_("url") or ""
    secret = params.str_("secret_token")
    if secret is not None and not SECRET_TOKEN.match(secret):
        raise bad_request("secret token contains unallowed characters")
    if url and not re.match(r"^https?://[^/\s]+", url):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    max_connections = params.int_("max_connections", 40) or 40
    if not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    if params.bool_("drop_pending_updates"):
        bot.pending.clear()
    if not url:
        bot.webhook = None
        return True
    bot.webhook = Webhook(url, secret, max_connections, _allowed_updates(params))
    if bot.poller is not None:
        bot.poller.set()
    emu.schedule_push(bot)
    return True


async def delete_webhook(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    if params.bool_("drop_pending_updates"):
        bot.pending.clear()
    bot.webhook = None
    return True


async def get_webhook_info(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    hook = bot.webhook
    info: dict[str, Any] = {
        "url": hook.url if hook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(bot.pending),
    }
    if hook is not None:
        info["max_connections"] = hook.max_connections
        if hook.allowed_updates:
            info["allowed_updates"] = hook.allowed_updates
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
    return info


def _confirm(bot: BotState, offset: int | None) -> None:
    if offset is None:
        return
    if offset < 0:
        del bot.pending[: max(0, len(bot.pending) + offset)]
    else:
        bot.pending[:] = [u for u in bot.pending if u["update_id"] >= offset]


def _wanted(bot: BotState, allowed: list[str] | None, limit: int) -> list[dict[str, Any]]:
    updates = [u for u in bot.pending if allowed is None or any(k in u for k in allowed)]
    return updates[:limit]


async def get_updates(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    if bot.webhook is not None:
        raise ApiError(409, WEBHOOK_CONFLICT)
    offset = params.int_("offset")
    limit = min(max(params.int_("limit", 100) or 100, 1), 100)
    timeout = max(params.int_("timeout", 0) or 0, 0)
    allowed = _allowed_updates(params)
    if bot.poller is not None:
        bot.poller.set()  # the older request ends with 409, as on Telegram
    terminated = asyncio.Event()
    bot.poller = terminated
    try:
        _confirm(bot, offset)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            updates = _wanted(bot, allowed, limit)
            if updates:
                return updates
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or emu.closing.is_set():
                return []
            changed = bot.updates_changed
            waiters = [
                asyncio.ensure_future(changed.wait()),
                asyncio.ensure_future(terminated.wait()),
                asyncio.ensure_future(emu.closing.wait()),
            ]
            try:
                await asyncio.wait(waiters, timeout=remaining, return_when="FIRST_COMPLETED")
            finally:
                for waiter in waiters:
                    waiter.cancel()
            if terminated.is_set():
                raise ApiError(409, POLL_CONFLICT)
    finally:
        if bot.poller is terminated:
            bot.poller = None


async def get_file(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    file = bot.files.get(params.required_str("file_id"))
    if file is None:
        raise bad_request("invalid file_id")
    return {
        "file_id": file.file_id,
        "file_unique_id": file.file_unique_id,
        "file_size": file.size,
        "file_path": file.file_path,
    }


async def get_user_profile_photos(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    user = bot.users.get(params.required_int("user_id"))
    if user is None:
        raise bad_request("user not found")
    offset = max(params.int_("offset", 0) or 0, 0)
    limit = min(max(params.int_("limit", 100) or 100, 1), 100)
    photos = user.photos[offset : offset + limit]
    return {"total_count": len(user.photos), "photos": [photo_sizes(p) for p in photos]}


async def answer_callback_query(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    query_id = params.required_str("callback_query_id")
    if query_id not in bot.callback_queries or bot.callback_queries[query_id] is not None:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    answer = params.recorded()
    bot.callback_queries[query_id] = answer
    bot.answers.append(answer)
    emu.notify()
    return True


async def send_chat_action(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    action = params.required_str("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    chat_id = messages.resolve_chat(emu, bot, params)
    bot.chat_actions.append((chat_id, action))
    return True


async def set_my_commands(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    commands = params.json_("commands")
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        name = command.get("command", "") if isinstance(command, dict) else ""
        if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    bot.commands = [dict(c) for c in commands]
    return True


async def get_my_commands(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    return bot.commands


async def delete_my_commands(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    bot.commands = []
    return True


async def set_chat_menu_button(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    """The bot's menu button, for one private chat (``chat_id``) or the default; a ``web_app``
    button needs a text and an HTTPS URL, as Telegram requires."""
    button = params.json_("menu_button")
    if button is None:
        button = {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
        raise bad_request("can't parse menu button JSON object")
    if button["type"] == "web_app":
        url = str((button.get("web_app") or {}).get("url", ""))
        if not str(button.get("text", "")).strip():
            raise bad_request("BUTTON_TEXT_INVALID")
        if not url.startswith("https://"):
            raise bad_request("BUTTON_URL_INVALID")
    chat_ref = params.chat_id() if params.values.get("chat_id") not in (None, "") else None
    bot.menu_buttons[chat_ref if isinstance(chat_ref, int) else None] = dict(button)
    return True


async def get_chat_menu_button(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    chat_ref = params.chat_id() if params.values.get("chat_id") not in (None, "") else None
    key = chat_ref if isinstance(chat_ref, int) else None
    return bot.menu_buttons.get(key) or bot.menu_buttons.get(None) or {"type": "commands"}


async def get_chat(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    chat_ref = params.chat_id()
    chat = bot.chat(chat_ref) if isinstance(chat_ref, int) else None
    if chat is None:
        raise bad_request(messages.CHAT_NOT_FOUND)
    return {**chat, "accent_color_id": 0, "max_reaction_count": 11}


def _join_request(bot: BotState, params: Params) -> tuple[int, int]:
    chat_ref = params.chat_id()
    user_id = params.required_int("user_id")
    key = (chat_ref if isinstance(chat_ref, int) else 0, user_id)
    if bot.join_requests.get(key) != "pending":  # unknown, or already answered
        raise bad_request("HIDE_REQUESTER_MISSING")
    return key


async def approve_chat_join_request(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    bot.join_requests[_join_request(bot, params)] = "approved"
    emu.notify()
    return True


async def decline_chat_join_request(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    bot.join_requests[_join_request(bot, params)] = "declined"
    emu.notify()
    return True


METHODS: dict[str, Handler] = {
    name.lower(): handler
    for name, handler in {
        "getMe": get_me,
        "setWebhook": set_webhook,
        "deleteWebhook": delete_webhook,
        "getWebhookInfo": get_webhook_info,
        "getUpdates": get_updates,
        "sendMessage": messages.send_message,
        "sendPhoto": messages.send_photo,
        "sendDocument": messages.send_document,
        "sendVideo": messages.send_video,
        "getFile": get_file,
        "getUserProfilePhotos": get_user_profile_photos,
        "answerCallbackQuery": answer_callback_query,
        "editMessageText": messages.edit_message_text,
        "editMessageCaption": messages.edit_message_caption,
        "editMessageReplyMarkup": messages.edit_message_reply_markup,
        "deleteMessage": messages.delete_message,
        "sendChatAction": send_chat_action,
        "setMyCommands": set_my_commands,
        "getMyCommands": get_my_commands,
        "deleteMyCommands": delete_my_commands,
        "setChatMenuButton": set_chat_menu_button,
        "getChatMenuButton": get_chat_menu_button,
        "getChat": get_chat,
        "approveChatJoinRequest": approve_chat_join_request,
        "getBusinessConnection": business.get_business_connection,
        "declineChatJoinRequest": decline_chat_join_request,
    }.items()
}
