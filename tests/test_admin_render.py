"""Rendering the admin command layer's replies as Telegram Bot API calls (pure functions)."""

from __future__ import annotations

from aiogram.methods import EditMessageReplyMarkup, EditMessageText, SendDocument, SendMessage
from aiogram.types import ForceReply, InlineKeyboardMarkup
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.admin.render import CAPTION_LIMIT, PLACEHOLDER, keyboard, render
from commands.admin.reply import (
    CALLBACK_LIMIT,
    MESSAGE_LIMIT,
    Button,
    Reply,
    ReplyFile,
    split_text,
    utf16_len,
)

ALPHABET = st.sampled_from("ab \nя😀")
LINE = st.text(alphabet=st.sampled_from("ab я😀"), max_size=60)


@given(st.text(alphabet=ALPHABET, max_size=600), st.integers(min_value=2, max_value=80))
def test_split_pieces_fit_and_lose_only_separators(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert all(utf16_len(p) <= limit for p in pieces)
    # Only the line break or space at a cut is dropped; every other character stays in order.
    kept = "".join(pieces)
    assert kept.replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    assert len(kept) >= len(text) - (len(pieces) - 1)


@given(st.lists(LINE, min_size=1, max_size=40), st.integers(min_value=60, max_value=200))
def test_split_cuts_at_line_boundaries_when_lines_fit(lines: list[str], limit: int) -> None:
    lines = [line for line in lines if utf16_len(line) <= limit]
    text = "\n".join(lines)
    pieces = split_text(text, limit)
    # Each piece is whole consecutive lines: joining them with line breaks restores the text.
    assert "\n".join(pieces) == text
    assert all(utf16_len(p) <= limit for p in pieces)


@settings(max_examples=20, deadline=None)
@given(st.lists(LINE, min_size=1, max_size=400))
def test_split_at_telegrams_limit(lines: list[str]) -> None:
    text = "\n".join(lines)
    pieces = split_text(text)
    assert all(utf16_len(p) <= MESSAGE_LIMIT for p in pieces)
    assert "\n".join(pieces) == text


def test_emoji_count_twice_towards_the_limit() -> None:
    text = "😀" * MESSAGE_LIMIT  # 8,192 UTF-16 units
    pieces = split_text(text)
    assert [len(p) for p in pieces] == [MESSAGE_LIMIT // 2, MESSAGE_LIMIT // 2]


def test_long_reply_becomes_several_messages_with_the_keyboard_on_the_last() -> None:
    lines = [f"client {i}: " + "x" * 80 for i in range(200)]
    reply = Reply("\n".join(lines), buttons=[[Button("Next", data="cl:p:2")]])
    methods = render(reply, chat_id=7)
    assert len(methods) >= 4
    assert all(isinstance(m, SendMessage) for m in methods)
    messages = [m for m in methods if isinstance(m, SendMessage)]
    assert all(len(m.text) <= MESSAGE_LIMIT and m.chat_id == 7 for m in messages)
    assert [m.reply_markup is not None for m in messages] == [False] * (len(messages) - 1) + [True]
    assert "\n".join(m.text for m in messages) == reply.text
    markup = messages[-1].reply_markup
    assert isinstance(markup, InlineKeyboardMarkup)
    assert markup.inline_keyboard[0][0].callback_data == "cl:p:2"


def test_button_press_edits_the_pressed_message() -> None:
    reply = Reply("Page 2", buttons=[[Button("Prev", data="cl:p:1")]], edit=True)
    [edit] = render(reply, chat_id=7, pressed_message_id=99)
    assert isinstance(edit, EditMessageText)
    assert (edit.chat_id, edit.message_id, edit.text) == (7, 99, "Page 2")
    assert edit.reply_markup is not None

    # Without a pressed message (a typed command) the same reply is a new message.
    [send] = render(reply, chat_id=7)
    assert isinstance(send, SendMessage)


def test_long_edit_edits_the_first_piece_and_sends_the_rest() -> None:
    reply = Reply("a" * 3000 + "\n" + "b" * 3000, buttons=[[Button("x", data="x")]], edit=True)
    first, second = render(reply, chat_id=7, pressed_message_id=99)
    assert isinstance(first, EditMessageText) and first.reply_markup is None
    assert isinstance(second, SendMessage) and second.reply_markup is not None


def test_edit_without_text_changes_only_the_keyboard() -> None:
    reply = Reply("", buttons=[[Button("☑ name", data="pv:t:name")]], edit=True)
    [edit] = render(reply, chat_id=7, pressed_message_id=5)
    assert isinstance(edit, EditMessageReplyMarkup)
    assert edit.reply_markup is not None
    assert edit.reply_markup.inline_keyboard[0][0].text == "☑ name"


def test_toast_only_reply_sends_nothing_and_buttons_alone_get_a_placeholder() -> None:
    assert render(Reply("", notice="Done"), chat_id=7, pressed_message_id=5) == []
    assert render(Reply("  \n "), chat_id=7) == []
    [send] = render(Reply("", buttons=[[Button("a", data="a")]]), chat_id=7)
    assert isinstance(send, SendMessage) and send.text == PLACEHOLDER


def test_files_go_as_documents_and_long_captions_as_text() -> None:
    reply = Reply(
        "Export ready",
        files=[
            ReplyFile("clients.csv", b"id,name\n1,Ann\n", caption="3 clients"),
            ReplyFile("big.csv", b"x", caption="c" * (CAPTION_LIMIT + 1)),
        ],
    )
    methods = render(reply, chat_id=7)
    kinds = [type(m).__name__ for m in methods]
    assert kinds == ["SendMessage", "SendDocument", "SendDocument", "SendMessage"]
    doc = methods[1]
    assert isinstance(doc, SendDocument) and doc.caption == "3 clients"
    assert doc.document.filename == "clients.csv"  # type: ignore[union-attr]
    assert doc.document.data == b"id,name\n1,Ann\n"  # type: ignore[union-attr]
    big = methods[2]
    assert isinstance(big, SendDocument) and big.caption is None
    tail = methods[3]
    assert isinstance(tail, SendMessage) and tail.text == "c" * (CAPTION_LIMIT + 1)


def test_keyboard_rows_url_buttons_and_the_callback_limit() -> None:
    markup = keyboard(
        [
            [Button("Open", data="x" * CALLBACK_LIMIT), Button("Site", url="https://e.test")],
            [],
        ]
    )
    assert markup is not None and len(markup.inline_keyboard) == 1
    open_button, site = markup.inline_keyboard[0]
    assert open_button.callback_data == "x" * CALLBACK_LIMIT
    assert site.url == "https://e.test" and site.callback_data is None
    assert keyboard([]) is None
    # Callback data counts in bytes: 32 Cyrillic letters are 64 bytes, 33 are 66.
    Button("ok", data="я" * 32)
    try:
        Button("too long", data="я" * 33)
    except ValueError as exc:
        assert "64 bytes" in str(exc)
    else:
        raise AssertionError("callback data over 64 bytes was accepted")


PIECES = st.sampled_from(["a" * 1500, "я😀 " * 500, "\n", " ", "\n\n", "x" * 5000, "ok"])


@settings(max_examples=60, deadline=None)
@given(st.lists(PIECES, max_size=8), st.booleans(), st.booleans())
def test_any_reply_renders_to_valid_calls(
    pieces: list[str], with_buttons: bool, pressed: bool
) -> None:
    text = "".join(pieces)
    buttons = [[Button("Next", data="cl:p:2")]] if with_buttons else []
    methods = render(
        Reply(text, buttons=buttons, edit=pressed),
        chat_id=7,
        pressed_message_id=5 if pressed else None,
    )
    texts = [m.text or "" for m in methods if isinstance(m, SendMessage | EditMessageText)]
    # Telegram refuses empty and over-long texts; every non-blank character is shown.
    assert all(t.strip() and utf16_len(t) <= MESSAGE_LIMIT for t in texts)
    shown = "".join(texts).replace(" ", "").replace("\n", "")
    if text.strip():
        assert shown == text.replace(" ", "").replace("\n", "")
    elif with_buttons and not pressed:
        assert texts == [PLACEHOLDER]
    else:
        assert texts == []
    # The keyboard, when there is one, is under the last message or the edited one only.
    marked = [getattr(m, "reply_markup", None) is not None for m in methods]
    if with_buttons:
        assert marked == [False] * (len(methods) - 1) + [True]
    else:
        assert not any(marked)


def test_force_reply_on_a_sent_message_without_buttons_only() -> None:
    [ask] = render(Reply("Your answer:", force_reply=True), chat_id=7)
    assert isinstance(ask, SendMessage) and isinstance(ask.reply_markup, ForceReply)
    [both] = render(Reply("x", buttons=[[Button("a", data="a")]], force_reply=True), chat_id=7)
    assert isinstance(both, SendMessage) and isinstance(both.reply_markup, InlineKeyboardMarkup)
    [edit] = render(Reply("x", force_reply=True, edit=True), chat_id=7, pressed_message_id=3)
    assert isinstance(edit, EditMessageText) and edit.reply_markup is None
