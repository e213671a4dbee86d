"""The Telegram adapter's outbound path: aiogram against the emulator, errors classified."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bots.contract import OutboundAttachment, OutboundMessage
from bots.errors import Blocked, PermanentError, RecipientGone, RetryAfter, TransientError
from bots.registry import adapter_class
from bots.telegram.adapter import TelegramAdapter, split_text
from emulators.loopback import served
from emulators.telegram import TelegramEmulator
from tests.telegram_support import TOKEN, FakeClock, settings_for

MARKUP = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(tokens=[TOKEN], clock=clock) as emulator:
        emulator.user(TOKEN, 42, first_name="Ann")
        yield emulator


@pytest.fixture
async def adapter(emu: TelegramEmulator) -> AsyncIterator[TelegramAdapter]:
    settings = settings_for(emu.base_url)
    built = adapter_class("telegram")(settings.bots[0], settings)
    assert isinstance(built, TelegramAdapter)
    yield built
    await built.close()


def out(text: str = "", **kwargs: object) -> OutboundMessage:
    return OutboundMessage(bot_name="tg", messenger_id="42", text=text, **kwargs)  # type: ignore[arg-type]


async def test_text_with_markup(emu: TelegramEmulator, adapter: TelegramAdapter) -> None:
    result = await adapter.send(out("Hello", reply_markup=MARKUP))
    (sent,) = emu.sent(TOKEN, chat_id=42)
    assert result.platform_message_id == str(sent.message_id)
    assert sent.text == "Hello" and sent.reply_markup == MARKUP
    assert sent.params.get("parse_mode") is None


async def test_long_text_is_split_with_markup_on_the_last_part(
    emu: TelegramEmulator, adapter: TelegramAdapter, clock: FakeClock
) -> None:
    text = ("line\n" * 1000) + "x" * 4000
    result = await adapter.send(out(text, reply_markup=MARKUP))
    sent = emu.sent(TOKEN)
    assert len(sent) == 3 == len(result.extra["message_ids"])
    assert all(len(m.text or "") <= 4096 for m in sent)
    assert "".join((m.text or "") + "\n" for m in sent).replace("\n", "") == text.replace("\n", "")
    assert [m.reply_markup for m in sent] == [None, None, MARKUP]


def test_split_text_keeps_every_character() -> None:
    assert split_text("") == [""]
    assert split_text("a" * 5000) == ["a" * 4096, "a" * 904]


async def test_photo_upload_with_caption(
    emu: TelegramEmulator, adapter: TelegramAdapter, tmp_path: Path
) -> None:
    picture = tmp_path / "cat.jpg"
    picture.write_bytes(b"\xff\xd8 jpeg bytes")
    attachment = OutboundAttachment(kind="photo", path=str(picture))
    await adapter.send(out("a cat", attachments=(attachment,), reply_markup=MARKUP))
    (sent,) = emu.sent(TOKEN)
    assert sent.kind == "photo" and sent.caption == "a cat" and sent.reply_markup == MARKUP
    assert sent.file is not None and sent.file.data == b"\xff\xd8 jpeg bytes"


async def test_document_by_url_and_by_file_id(
    emu: TelegramEmulator, adapter: TelegramAdapter, clock: FakeClock
) -> None:
    async def pdf(request: web.Request) -> web.Response:
        return web.Response(body=b"%PDF-1.7", content_type="application/pdf")

    app = web.Application()
    app.router.add_get("/price.pdf", pdf)
    async with served(app) as base:
        url = f"{base}/price.pdf"
        await adapter.send(out("prices", attachments=(OutboundAttachment("document", url=url),)))
    first = emu.sent(TOKEN)[0]
    assert first.file is not None and first.source == "url" and first.caption == "prices"
    clock.advance(5)
    again = OutboundAttachment("document", file_id=first.file.file_id)
    await adapter.send(out(attachments=(again,)))
    assert emu.sent(TOKEN)[1].source == "file_id"


async def test_text_too_long_for_a_caption_goes_first(
    emu: TelegramEmulator, adapter: TelegramAdapter, tmp_path: Path
) -> None:
    doc = tmp_path / "a.txt"
    doc.write_text("data")
    attachment = OutboundAttachment("document", path=str(doc), file_name="notes.txt")
    await adapter.send(out("t" * 2000, attachments=(attachment,)))
    first, second = emu.sent(TOKEN)
    assert first.kind == "text" and second.kind == "document" and second.caption is None
    assert second.file is not None and second.file.file_name == "notes.txt"


@pytest.mark.parametrize(
    ("arrange", "error", "code"),
    [
        (lambda emu: emu.user(TOKEN, 42, blocked=True), Blocked, "403"),
        (lambda emu: emu.user(TOKEN, 42).deactivate(), Blocked, "403"),
        (
            lambda emu: emu.never_existed.add(42) or emu.bots[TOKEN].users.pop(42),
            RecipientGone,
            "400",
        ),
        (
            lambda emu: emu.fail_next(
                "sendMessage", status=400, description="Bad Request: can't parse entities"
            ),
            PermanentError,
            "400",
        ),
        (lambda emu: emu.fail_next("sendMessage", status=500), TransientError, "5xx"),
        (
            lambda emu: emu.fail_next("sendMessage", status=502, description="Bad Gateway"),
            TransientError,
            "5xx",
        ),
        (lambda emu: emu.fail_next("sendMessage", network=True), TransientError, "network"),
        (
            lambda emu: emu.fail_next("sendMessage", status=401, description="Unauthorized"),
            PermanentError,
            "401",
        ),
    ],
)
async def test_errors_are_classified(
    emu: TelegramEmulator,
    adapter: TelegramAdapter,
    arrange: object,
    error: type[Exception],
    code: str,
) -> None:
    arrange(emu)  # type: ignore[operator]
    with pytest.raises(error) as caught:
        await adapter.send(out("hello"))
    assert type(caught.value) is error
    assert caught.value.code == code  # type: ignore[attr-defined]
    assert emu.sent() == []


async def test_flood_limit_becomes_retry_after_with_telegrams_seconds(
    emu: TelegramEmulator, adapter: TelegramAdapter
) -> None:
    for _ in range(3):
        await adapter.send(out("burst"))
    with pytest.raises(RetryAfter) as caught:
        await adapter.send(out("one more"))
    assert caught.value.seconds == 1.0 and caught.value.scope == "bot"
    emu.fail_next("sendMessage", status=429, retry_after=17)
    with pytest.raises(RetryAfter) as caught:
        await adapter.send(out("again"))
    assert caught.value.seconds == 17.0


async def test_bad_input_is_permanent_without_a_request(
    emu: TelegramEmulator, adapter: TelegramAdapter, tmp_path: Path
) -> None:
    with pytest.raises(PermanentError, match="not a Telegram chat id"):
        await adapter.send(OutboundMessage(bot_name="tg", messenger_id="ann@example.com", text="x"))
    with pytest.raises(PermanentError, match="invalid reply_markup"):
        await adapter.send(out("x", reply_markup={"inline_keyboard": "nope"}))
    with pytest.raises(PermanentError, match="nothing to send"):
        await adapter.send(out("  "))
    missing = OutboundAttachment("document", path=str(tmp_path / "missing.pdf"))
    with pytest.raises(PermanentError, match="cannot read the attachment"):
        await adapter.send(out("x", attachments=(missing,)))
    assert emu.sent() == []
    too_long = {"inline_keyboard": [[{"text": "b", "callback_data": "d" * 65}]]}
    with pytest.raises(PermanentError, match="BUTTON_DATA_INVALID"):
        await adapter.send(out("x", reply_markup=too_long))
