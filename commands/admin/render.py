"""A command's ``Reply`` as Telegram Bot API calls: pure functions, no network.

``render`` returns aiogram method objects (``SendMessage``, ``EditMessageText``, ...) that the
admin bot executes in order with ``await bot(method)``. Rules:

* the text is split within Telegram's 4,096-unit message limit at line boundaries
  (``reply.split_text``); blank pieces are dropped (Telegram refuses empty messages);
* the inline keyboard goes on the last text message, so it stays under the whole answer;
  ``reply.force_reply`` (without buttons) puts Telegram's ForceReply on a sent message;
* ``reply.edit`` (a button press) edits the pressed message: its text with the first piece,
  or only its keyboard when the reply has no text; further pieces follow as new messages;
* files go as documents, their caption inline when it fits Telegram's 1,024-unit caption
  limit, else as a text message after the document.
"""

from __future__ import annotations

from typing import Any

from aiogram.methods import (
    EditMessageReplyMarkup,
    EditMessageText,
    SendDocument,
    SendMessage,
    TelegramMethod,
)
from aiogram.types import (
    BufferedInputFile,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    WebAppInfo,
)

from commands.admin.reply import CALLBACK_LIMIT, Button, Reply, split_text, utf16_len

CAPTION_LIMIT = 1024  # UTF-16 units of a document caption
PLACEHOLDER = "⋯"  # the text of a message that only carries buttons

Method = TelegramMethod[Any]


def keyboard(rows: list[list[Button]]) -> InlineKeyboardMarkup | None:
    """The inline keyboard of ``rows``; None without buttons. Callback data is re-checked
    against Telegram's 64-byte limit here, where it leaves for Telegram."""
    markup_rows: list[list[InlineKeyboardButton]] = []
    for row in rows:
        buttons: list[InlineKeyboardButton] = []
        for button in row:
            if button.url is not None:
                buttons.append(InlineKeyboardButton(text=button.text, url=button.url))
                continue
            if button.web_app is not None:
                app = WebAppInfo(url=button.web_app)
                buttons.append(InlineKeyboardButton(text=button.text, web_app=app))
                continue
            data = button.data or ""
            assert 0 < len(data.encode()) <= CALLBACK_LIMIT, f"callback data {data!r}"
            buttons.append(InlineKeyboardButton(text=button.text, callback_data=data))
        if buttons:
            markup_rows.append(buttons)
    return InlineKeyboardMarkup(inline_keyboard=markup_rows) if markup_rows else None


def message_pieces(text: str) -> list[str]:
    """The non-blank messages ``text`` becomes (possibly none)."""
    return [piece for piece in split_text(text) if piece.strip()]


def render(
    reply: Reply,
    chat_id: int,
    *,
    pressed_message_id: int | None = None,
) -> list[Method]:
    """The calls that show ``reply`` in ``chat_id``.

    ``pressed_message_id``: the message whose button was pressed; edited when ``reply.edit``.
    An edit with neither text nor buttons removes the pressed message's keyboard; a reply
    with neither (a toast only, ``reply.notice``) sends nothing.
    """
    methods: list[Method] = []
    markup = keyboard(reply.buttons)
    sent_markup: InlineKeyboardMarkup | ForceReply | None = markup
    if markup is None and reply.force_reply:
        sent_markup = ForceReply(force_reply=True, input_field_placeholder="Your answer")
    pieces = message_pieces(reply.text)
    if not pieces and markup is not None and not (reply.edit and pressed_message_id):
        pieces = [PLACEHOLDER]
    if reply.edit and pressed_message_id is not None:
        if not pieces:
            methods.append(
                EditMessageReplyMarkup(
                    chat_id=chat_id, message_id=pressed_message_id, reply_markup=markup
                )
            )
        else:
            only = len(pieces) == 1
            methods.append(
                EditMessageText(
                    chat_id=chat_id,
                    message_id=pressed_message_id,
                    text=pieces[0],
                    reply_markup=markup if only else None,
                )
            )
            pieces = pieces[1:]
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        methods.append(
            SendMessage(
                chat_id=chat_id,
                text=piece,
                reply_markup=sent_markup if last else None,
            )
        )
    for file in reply.files:
        caption = file.caption if utf16_len(file.caption) <= CAPTION_LIMIT else ""
        methods.append(
            SendDocument(
                chat_id=chat_id,
                document=BufferedInputFile(file.content, filename=file.file_name),
                caption=caption or None,
            )
        )
        if file.caption and not caption:
            methods.extend(
                SendMessage(chat_id=chat_id, text=p) for p in message_pieces(file.caption)
            )
    return methods
