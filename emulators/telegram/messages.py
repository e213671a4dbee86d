"""The Bot API's message methods: send (text, photo, video, document), edit, delete.

Each handler takes ``(emu, bot, params)`` and returns the ``result`` of the answer or raises
``ApiError``. Sends are checked in Telegram's order: parameters (400), the chat (400 chat not
found, 403 blocked / deactivated), the flood limits (429), then the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulators.telegram import business
from emulators.telegram.entities import EntityError, visible_text
from emulators.telegram.model import (
    BLOCKED,
    CHAT_NOT_FOUND,
    DEACTIVATED,
    MAX_CALLBACK_DATA,
    MAX_CAPTION,
    MAX_TEXT,
    ApiError,
    BotState,
    SentMessage,
    StoredFile,
    bad_request,
    now_s,
)
from emulators.telegram.params import Params

if TYPE_CHECKING:
    from emulators.telegram.server import TelegramEmulator

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


def photo_sizes(file: StoredFile) -> list[dict[str, Any]]:
    return [
        {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "file_size": file.size,
            "width": 800,
            "height": 600,
        }
    ]


def document_json(file: StoredFile) -> dict[str, Any]:
    data: dict[str, Any] = {
        "file_id": file.file_id,
        "file_unique_id": file.file_unique_id,
        "file_size": file.size,
    }
    if file.file_name:
        data["file_name"] = file.file_name
    if file.mime_type:
        data["mime_type"] = file.mime_type
    return data


def message_json(bot: BotState, message: SentMessage, sender: dict[str, Any]) -> dict[str, Any]:
    """The Message object of ``message`` as Telegram returns or pushes it."""
    data: dict[str, Any] = {
        "message_id": message.message_id,
        "from": sender,
        "chat": bot.chat(message.chat_id) or {"id": message.chat_id, "type": "private"},
        "date": message.date,
    }
    if message.kind == "text":
        data["text"] = message.text or ""
    elif message.text:
        data["caption"] = message.text
    if message.file is not None:
        if message.kind == "photo":
            data["photo"] = photo_sizes(message.file)
        elif message.kind == "video":
            data["video"] = {
                **document_json(message.file),
                "width": 1280,
                "height": 720,
                "duration": 1,
            }
        else:
            data["document"] = document_json(message.file)
    if message.edits:
        data["edit_date"] = now_s()
    markup = message.reply_markup
    if markup and "inline_keyboard" in markup:
        data["reply_markup"] = markup
    return data


def check_markup(markup: Any) -> dict[str, Any] | None:
    """``reply_markup`` as Telegram validates it: inline keyboard buttons need a text and one
    action; ``callback_data`` is 1-64 bytes."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard", markup.get("keyboard"))
    if rows is None:
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return markup
        raise bad_request("can't parse reply keyboard markup JSON object")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    for row in rows:
        for button in row:
            if isinstance(button, str) and "keyboard" in markup:
                continue
            if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                raise bad_request("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                raise bad_request("BUTTON_DATA_INVALID")
            if "inline_keyboard" in markup and not any(
                key in button
                for key in (
                    "callback_data",
                    "url",
                    "switch_inline_query",
                    "web_app",
                    "pay",
                    "login_url",
                    "copy_text",
                    "switch_inline_query_current_chat",
                )
            ):
                raise bad_request("BUTTON_TYPE_INVALID")
    return markup


def resolve_chat(emu: TelegramEmulator, bot: BotState, params: Params) -> int:
    """The chat a send goes to: 400 for an unknown chat, 403 for a blocked or deleted user;
    through a business connection (``business_connection_id``) the owner's chat."""
    connection_id = params.str_("business_connection_id")
    if connection_id is not None:
        return business.resolve(bot, params, connection_id)
    chat_ref = params.chat_id()
    if isinstance(chat_ref, str):
        found = [u.user_id for u in bot.users.values() if u.username == chat_ref[1:]]
        if not found:
            raise bad_request(CHAT_NOT_FOUND)
        chat_ref = found[0]
    chat_id = chat_ref
    user = bot.users.get(chat_id)
    if user is None and chat_id not in bot.groups:
        if chat_id in emu.never_existed or not emu.accept_unknown_chats or chat_id <= 0:
            raise bad_request(CHAT_NOT_FOUND)
        user = emu.user(bot.token, chat_id).state
    if user is not None:
        if user.deactivated:
            raise ApiError(403, DEACTIVATED)
        if user.blocked:
            raise ApiError(403, BLOCKED)
    return chat_id


# the methods whose accepted calls count against the flood limits (``emu.accepted_sends``)
FLOODED_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument"})


def check_flood(emu: TelegramEmulator, bot: BotState, chat_id: int, params: Params) -> None:
    paid = params.bool_("allow_paid_broadcast")  # counted at 1,000/s, not the bot's 30/s
    retry_after = emu.limits.take(bot.token, chat_id, params.received, paid=paid)
    if retry_after is not None:
        raise ApiError(
            429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
        )


def record_outgoing(
    emu: TelegramEmulator,
    bot: BotState,
    chat_id: int,
    kind: str,
    text: str | None,
    params: Params,
    file: StoredFile | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    message = SentMessage(
        token=bot.token,
        chat_id=chat_id,
        message_id=bot.next_message_id(chat_id),
        kind=kind,
        text=text,
        date=now_s(),
        outgoing=True,
        reply_markup=check_markup(params.json_("reply_markup")),
        file=file,
        source=source,
        params=params.recorded(),
    )
    message.json = message_json(bot, message, bot.as_user())
    if connection_id := params.str_("business_connection_id"):
        message.json["business_connection_id"] = connection_id
    bot.messages[(chat_id, message.message_id)] = message
    bot.outgoing.append(message)
    emu.notify()
    return message.json


def visible(params: Params, text: str) -> str:
    """``text`` as shown: its markup parsed when ``parse_mode`` is HTML (else as given)."""
    if (params.str_("parse_mode") or "").upper() != "HTML":
        return text
    try:
        return visible_text(text)
    except EntityError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None


def _message_text(params: Params, *, too_long: str) -> str:
    """The ``text`` parameter as shown, refused as Telegram does when empty or over 4,096
    characters."""
    text = visible(params, params.str_("text") or "")
    if not text.strip():
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT:
        raise bad_request(too_long)
    return text


async def send_message(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    text = _message_text(params, too_long="message is too long")
    check_markup(params.json_("reply_markup"))
    chat_id = resolve_chat(emu, bot, params)
    check_flood(emu, bot, chat_id, params)
    return record_outgoing(emu, bot, chat_id, "text", text, params)


async def _send_file(emu: TelegramEmulator, bot: BotState, params: Params, kind: str) -> Any:
    caption = params.str_("caption")
    caption = visible(params, caption) if caption is not None else None
    if caption is not None and len(caption) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    if not params.has(kind) and kind not in params.files:
        raise bad_request(f"there is no {kind} in the request")
    check_markup(params.json_("reply_markup"))
    chat_id = resolve_chat(emu, bot, params)
    check_flood(emu, bot, chat_id, params)
    file, source = await emu.input_file(bot, params, kind)
    return record_outgoing(emu, bot, chat_id, kind, caption or None, params, file, source)


async def send_photo(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    return await _send_file(emu, bot, params, "photo")


async def send_document(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    return await _send_file(emu, bot, params, "document")


async def send_video(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    return await _send_file(emu, bot, params, "video")


def _editable(bot: BotState, params: Params, what: str = "edit") -> SentMessage:
    if params.has("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    chat_id = params.chat_id()
    message_id = params.required_int("message_id")
    message = bot.messages.get((chat_id, message_id)) if isinstance(chat_id, int) else None
    if message is None or message.deleted:
        raise bad_request(f"message to {what} not found")
    if what == "edit" and not message.outgoing:
        raise bad_request("message can't be edited")
    return message


def _apply_edit(
    emu: TelegramEmulator, bot: BotState, message: SentMessage, text: str | None, markup: Any
) -> dict[str, Any]:
    if text == message.text and markup == message.reply_markup:
        raise bad_request(NOT_MODIFIED)
    message.edits.append((message.text, message.reply_markup))
    message.text = text
    message.reply_markup = markup
    message.json = message_json(bot, message, bot.as_user())
    emu.notify()
    return message.json


async def edit_message_text(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    text = _message_text(params, too_long="MESSAGE_TOO_LONG")  # Telegram's wording on edits
    markup = check_markup(params.json_("reply_markup"))
    message = _editable(bot, params)
    if message.kind != "text":
        raise bad_request("there is no text in the message to edit")
    return _apply_edit(emu, bot, message, text, markup)


async def edit_message_caption(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    caption = params.str_("caption")
    if caption is not None and len(caption) > MAX_CAPTION:
        raise bad_request("MEDIA_CAPTION_TOO_LONG")
    markup = check_markup(params.json_("reply_markup"))
    message = _editable(bot, params)
    if message.kind == "text":
        raise bad_request("there is no caption in the message to edit")
    return _apply_edit(emu, bot, message, caption or None, markup)


async def edit_message_reply_markup(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    markup = check_markup(params.json_("reply_markup"))
    message = _editable(bot, params)
    return _apply_edit(emu, bot, message, message.text, markup)


async def delete_message(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    message = _editable(bot, params, what="delete")
    message.deleted = True
    emu.notify()
    return True
