"""The Bot API emulator, driven by the real aiogram client over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.telegram.client import make_bot
from emulators.loopback import served
from emulators.telegram import SECRET_HEADER, TelegramEmulator
from tests.telegram_support import OTHER_TOKEN, TOKEN, FakeClock

KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="Buy", callback_data="buy:1")]]
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(tokens=[TOKEN], clock=clock) as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[Bot]:
    client = make_bot(TOKEN, emu.base_url)
    yield client
    await client.session.close()


async def test_get_me_and_unknown_token(emu: TelegramEmulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456 and me.is_bot
    stranger = make_bot(OTHER_TOKEN, emu.base_url)
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()
    finally:
        await stranger.session.close()
    assert [c.status for c in emu.calls] == [200, 401]


async def test_send_message_records_markup_and_answers_a_message(
    emu: TelegramEmulator, bot: Bot
) -> None:
    emu.user(TOKEN, 42, first_name="Ann")
    message = await bot.send_message(42, "Hello", reply_markup=KEYBOARD)
    assert message.message_id == 1 and message.text == "Hello"
    assert message.reply_markup is not None
    assert message.reply_markup.model_dump(exclude_none=True) == KEYBOARD.model_dump(
        exclude_none=True
    )
    (sent,) = await emu.wait_sent(1)
    assert (sent.chat_id, sent.text, sent.kind) == (42, "Hello", "text")
    assert sent.buttons() == [{"text": "Buy", "callback_data": "buy:1"}]
    assert emu.sent(TOKEN, chat_id=7) == []


async def test_json_body_and_form_body_are_accepted(emu: TelegramEmulator) -> None:
    import aiohttp

    emu.user(TOKEN, 42)
    async with aiohttp.ClientSession() as http:
        url = f"{emu.base_url}/bot{TOKEN}/sendMessage"
        async with http.post(url, json={"chat_id": 42, "text": "json"}) as r:
            assert (await r.json())["result"]["text"] == "json"
        async with http.post(url, data={"chat_id": "42", "text": "form"}) as r:
            assert (await r.json())["ok"] is True
        async with http.post(
            url, data=b"{broken", headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 400
        async with http.get(f"{emu.base_url}/bot{TOKEN}/noSuchMethod") as r:
            assert r.status == 404 and (await r.json())["description"] == "Not Found"
    assert [m.text for m in emu.sent()] == ["json", "form"]


async def test_photo_upload_get_file_and_download(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user(TOKEN, 42)
    data = b"\x89PNG fake image bytes"
    message = await bot.send_photo(42, BufferedInputFile(data, "cat.png"), caption="a cat")
    assert message.caption == "a cat" and message.photo
    file = await bot.get_file(message.photo[-1].file_id)
    assert file.file_path
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == data
    (sent,) = emu.sent(TOKEN)
    assert sent.source == "upload" and sent.file is not None and sent.file.data == data
    again = await bot.send_photo(42, message.photo[-1].file_id)
    assert again.photo and again.photo[-1].file_id == message.photo[-1].file_id
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_document(42, "no-such-file-id")


async def test_document_by_url_is_fetched(emu: TelegramEmulator, bot: Bot) -> None:
    async def serve_pdf(request: web.Request) -> web.Response:
        return web.Response(body=b"%PDF-1.4 invoice", content_type="application/pdf")

    app = web.Application()
    app.router.add_get("/invoice.pdf", serve_pdf)
    async with served(app) as base:
        emu.user(TOKEN, 42)
        url = f"{base}/invoice.pdf"
        message = await bot.send_document(42, url, caption="your bill")
        assert message.document is not None and message.document.file_name == "invoice.pdf"
        (sent,) = emu.sent(TOKEN)
        assert sent.file is not None and sent.file.data == b"%PDF-1.4 invoice"
        assert sent.source == "url"
        with pytest.raises(TelegramBadRequest, match="failed to get HTTP URL content"):
            await bot.send_document(42, url.replace("invoice", "missing"))


async def test_chat_flood_limit_allows_a_burst_then_429(
    emu: TelegramEmulator, bot: Bot, clock: FakeClock
) -> None:
    emu.user(TOKEN, 42)
    for i in range(3):
        await bot.send_message(42, f"burst {i}")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(42, "one too many")
    assert caught.value.retry_after == 1
    clock.advance(1.0)
    await bot.send_message(42, "after the wait")
    assert len(emu.sent(TOKEN)) == 4


async def test_bot_flood_limit_is_30_per_second(
    emu: TelegramEmulator, bot: Bot, clock: FakeClock
) -> None:
    for chat in range(1, 32):
        emu.user(TOKEN, chat)
    for chat in range(1, 31):
        await bot.send_message(chat, "hi")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(31, "hi")
    clock.advance(1 / 30)
    await bot.send_message(31, "hi")


async def test_group_flood_limit_is_20_per_minute(
    emu: TelegramEmulator, bot: Bot, clock: FakeClock
) -> None:
    emu.group(TOKEN, -100500, "Staff")
    for i in range(20):
        clock.advance(0.1)
        await bot.send_message(-100500, f"m{i}")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(-100500, "too many")
    assert 1 <= caught.value.retry_after <= 3


async def test_blocked_deactivated_and_unknown_chats(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user(TOKEN, 1, blocked=True)
    emu.user(TOKEN, 2).deactivate()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(1, "x")
    with pytest.raises(TelegramForbiddenError, match="user is deactivated"):
        await bot.send_message(2, "x")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(3, "x")
    assert emu.sent() == []


async def test_accept_unknown_chats_but_not_never_existed(clock: FakeClock) -> None:
    async with TelegramEmulator(tokens=[TOKEN], accept_unknown_chats=True, clock=clock) as emu:
        emu.never_existed.add(66)
        bot = make_bot(TOKEN, emu.base_url)
        try:
            await bot.send_message(55, "hi")
            with pytest.raises(TelegramBadRequest, match="chat not found"):
                await bot.send_message(66, "hi")
        finally:
            await bot.session.close()
        assert [m.chat_id for m in emu.sent()] == [55]


async def test_fail_next_server_error_and_network(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user(TOKEN, 42)
    emu.fail_next("sendMessage", status=502)
    with pytest.raises(TelegramServerError):
        await bot.send_message(42, "x")
    emu.fail_next("sendMessage", network=True)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(42, "x")
    emu.fail_next("getMe", status=429, retry_after=7)
    await bot.send_message(42, "fine")  # the failure waits for getMe
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.get_me()
    assert caught.value.retry_after == 7
    assert [m.text for m in emu.sent()] == ["fine"]


async def test_validation_errors(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user(TOKEN, 42)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(42, "x" * 4097)
    long_data = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="b", callback_data="d" * 65)]]
    )
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(42, "x", reply_markup=long_data)
    assert emu.sent() == []


async def test_edit_delete_and_not_modified(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user(TOKEN, 42)
    message = await bot.send_message(42, "v1", reply_markup=KEYBOARD)
    edited = await bot.edit_message_text("v2", chat_id=42, message_id=message.message_id)
    assert not isinstance(edited, bool) and edited.text == "v2"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("v2", chat_id=42, message_id=message.message_id)
    await bot.edit_message_reply_markup(
        chat_id=42, message_id=message.message_id, reply_markup=KEYBOARD
    )
    (sent,) = emu.sent(TOKEN)
    assert sent.text == "v2" and sent.buttons() and len(sent.edits) == 2
    assert await bot.delete_message(42, message.message_id) is True
    assert sent.deleted
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(42, message.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("v3", chat_id=42, message_id=99)


async def test_long_polling_delivers_user_updates(emu: TelegramEmulator, bot: Bot) -> None:
    user = emu.user(TOKEN, 42, first_name="Ann", username="ann")
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert not poll.done()
    await user.send_text("hello")
    updates = await asyncio.wait_for(poll, 5)
    assert [u.message.text for u in updates if u.message] == ["hello"]
    await user.start("promo42")
    again = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=1)
    assert len(again) == 1 and again[0].message is not None
    assert again[0].message.text == "/start promo42"
    assert again[0].message.entities and again[0].message.entities[0].type == "bot_command"
    assert await bot.get_updates(offset=again[0].update_id + 1, timeout=0) == []


async def test_a_second_poller_ends_the_first_with_409(emu: TelegramEmulator, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(bot.get_updates(timeout=0))
    with pytest.raises(TelegramConflictError):
        await asyncio.wait_for(first, 5)
    assert await asyncio.wait_for(second, 5) == []


async def test_webhook_push_with_secret_and_redelivery(emu: TelegramEmulator, bot: Bot) -> None:
    emu._pusher.redeliver_after_s = 0.05
    received: list[tuple[str | None, dict[str, Any]]] = []
    answers = [500, 200, 200]

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get(SECRET_HEADER), await request.json()))
        return web.Response(status=answers.pop(0))

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with served(app) as base:
        url = f"{base}/hook"
        assert await bot.set_webhook(url, secret_token="s3cret")
        with pytest.raises(TelegramConflictError):
            await bot.get_updates()
        user = emu.user(TOKEN, 42)
        update = await user.send_text("first")
        await emu.wait_for(lambda: len(received) == 2)
        await user.send_text("second")
        assert [r[0] for r in received] == ["s3cret"] * 3
        ids = [r[1]["update_id"] for r in received]
        assert ids[0] == ids[1] == update["update_id"] and ids[2] == ids[0] + 1
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        assert info.last_error_message
        assert [d.status for d in emu.deliveries] == [500, 200, 200]
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""


async def test_callback_press_and_answer(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user(TOKEN, 42)
    await bot.send_message(42, "Choose", reply_markup=KEYBOARD)
    (sent,) = await emu.wait_sent(1)
    with pytest.raises(ValueError, match="no button"):
        await emu.press(TOKEN, 42, sent, "sell:1")
    raw = await emu.press(TOKEN, 42, sent, "buy:1")
    update = Update.model_validate(raw)
    assert update.callback_query is not None and update.callback_query.data == "buy:1"
    query_id = update.callback_query.id
    assert await bot.answer_callback_query(query_id, text="Done")
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query(query_id)
    assert emu.bots[TOKEN].answers[0]["text"] == "Done"


async def test_member_updates_photos_documents_and_edits_parse_as_aiogram_updates(
    emu: TelegramEmulator, bot: Bot
) -> None:
    user = emu.user(TOKEN, 42, first_name="Ann", last_name="Lee", language_code="de")
    user.set_profile_photo(b"avatar")
    raws = [
        await user.send_text("hi"),
        await user.send_photo(b"jpeg", caption="look"),
        await user.send_document(b"%PDF", "bill.pdf", mime_type="application/pdf"),
        await user.block(),
        await user.unblock(),
    ]
    raws.append(await user.edit(raws[0], "hi, edited"))
    updates = [Update.model_validate(r) for r in raws]
    assert updates[1].message and updates[1].message.photo and updates[1].message.caption == "look"
    document = updates[2].message.document if updates[2].message else None
    assert document is not None and document.file_name == "bill.pdf" and document.file_size == 4
    kicked, member = updates[3].my_chat_member, updates[4].my_chat_member
    assert kicked and kicked.new_chat_member.status == "kicked"
    assert member and member.new_chat_member.status == "member"
    assert updates[5].edited_message and updates[5].edited_message.text == "hi, edited"
    assert (await bot.send_message(42, "welcome back")).text == "welcome back"
    photos = await bot.get_user_profile_photos(42)
    assert photos.total_count == 1
    file = await bot.get_file(photos.photos[0][-1].file_id)
    assert file.file_path and (await bot.download_file(file.file_path)).read() == b"avatar"  # type: ignore[union-attr]


async def test_small_methods(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user(TOKEN, 42)
    assert await bot.send_chat_action(42, "typing")
    assert await bot.set_my_commands([BotCommand(command="help", description="Help")])
    assert [c.command for c in await bot.get_my_commands()] == ["help"]
    assert emu.bots[TOKEN].chat_actions == [(42, "typing")]
    with pytest.raises(TelegramBadRequest):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])
    assert [c.method for c in emu.calls_of("setMyCommands")] == ["setMyCommands"] * 2
    with pytest.raises(TelegramNotFound):
        await bot.session.make_request(bot, _unknown_method())  # type: ignore[arg-type]


def _unknown_method() -> object:
    from aiogram.methods import GetMe

    class NoSuchMethod(GetMe):
        __api_method__ = "noSuchMethod"

    return NoSuchMethod()


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(st.text(min_size=1, max_size=300).filter(str.strip), min_size=1, max_size=8))
async def test_any_text_round_trips(texts: list[str]) -> None:
    async with TelegramEmulator(tokens=[TOKEN], limits=False) as emu:
        user = emu.user(TOKEN, 42)
        bot = make_bot(TOKEN, emu.base_url)
        try:
            for text in texts:
                raw = await user.send_text(text)
                update = Update.model_validate(json.loads(json.dumps(raw)))
                assert update.message is not None and update.message.text == text
                message = await bot.send_message(42, text)
                assert message.text == text and emu.sent()[-1].text == text
        finally:
            await bot.session.close()


async def test_any_token_creates_bots_on_first_use() -> None:
    async with TelegramEmulator(any_token=True) as emu:
        bot = make_bot(OTHER_TOKEN, emu.base_url)
        try:
            assert (await bot.get_me()).id == 654321
        finally:
            await bot.session.close()
        assert OTHER_TOKEN in emu.bots
