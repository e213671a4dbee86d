"""A campaign's file is uploaded once per bot, then sent by the platform's id: the real aiogram
and pywa clients against the Telegram and Graph API emulators, ids kept in the store (both
databases)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import peewee
import pytest
from aiohttp import web

from bots.contract import OutboundAttachment, OutboundMessage
from bots.registry import build_adapters
from bots.telegram.adapter import TelegramAdapter
from bots.whatsapp.adapter import WhatsAppAdapter
from emulators.loopback import served
from emulators.telegram import TelegramEmulator
from emulators.whatsapp import GraphEmulator
from store.campaigns.content import CampaignContent, Media, render
from store.campaigns.placeholders import ClientFields
from store.media_uploads import key_of_file, key_of_url, known_file_id, remember_file_id
from store.models import MediaUpload
from tests import telegram_support, whatsapp_support

CHATS = [101, 102, 103, 104, 105, 106]


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(
        tokens=[telegram_support.TOKEN], clock=telegram_support.FakeClock()
    ) as emulator:
        for chat in CHATS:
            emulator.user(telegram_support.TOKEN, chat, first_name=f"U{chat}")
        yield emulator


def telegram_adapter(emu: TelegramEmulator) -> TelegramAdapter:
    built = build_adapters(telegram_support.settings_for(emu.base_url))["tg"]
    assert isinstance(built, TelegramAdapter)
    return built


def photo_to(chat: int | str, attachment: OutboundAttachment) -> OutboundMessage:
    return OutboundMessage("tg", str(chat), "<b>Sale</b>", attachments=(attachment,))


def sources(emu: TelegramEmulator) -> list[str | None]:
    return [m.source for m in emu.bot(telegram_support.TOKEN).outgoing]


async def test_telegram_photo_by_path_is_uploaded_once_for_n_recipients(
    db: peewee.Database, telegram: TelegramEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "sale.jpg"
    path.write_bytes(b"\xff\xd8 a jpeg")
    photo = OutboundAttachment("photo", path=str(path))
    adapter = telegram_adapter(telegram)
    try:
        # all at once: the first sends wait for the one upload instead of each uploading
        await asyncio.gather(*(adapter.send(photo_to(chat, photo)) for chat in CHATS[:4]))
    finally:
        await adapter.close()
    assert sorted(map(str, sources(telegram))) == ["file_id", "file_id", "file_id", "upload"]
    # another process (a new adapter) sends by the recorded id: no upload at all
    again = telegram_adapter(telegram)
    try:
        await again.send(photo_to(CHATS[4], photo))
    finally:
        await again.close()
    outgoing = telegram.bot(telegram_support.TOKEN).outgoing
    assert sources(telegram)[-1] == "file_id"
    assert len({m.file.file_id for m in outgoing if m.file}) == 1  # one file on Telegram's side
    assert known_file_id("tg", f"photo:{key_of_file(str(path))}") == outgoing[0].file.file_id  # type: ignore[union-attr]
    # the same bytes under another name are the same content; changed bytes are a new upload
    path.write_bytes(b"\xff\xd8 another jpeg")
    third = telegram_adapter(telegram)
    try:
        await third.send(photo_to(CHATS[5], photo))
    finally:
        await third.close()
    assert sources(telegram)[-1] == "upload"
    assert MediaUpload.select().count() == 2


async def test_telegram_url_is_fetched_once_and_a_stale_id_is_replaced(
    db: peewee.Database, telegram: TelegramEmulator
) -> None:
    telegram.files.fetch_urls = False  # the emulator stores URL files empty instead of fetching
    url = "https://cdn.example/video.mp4"
    video = OutboundAttachment("video", url=url)
    adapter = telegram_adapter(telegram)
    try:
        for chat in CHATS[:3]:
            await adapter.send(photo_to(chat, video))
        assert sources(telegram) == ["url", "file_id", "file_id"]
        assert {m.kind for m in telegram.bot(telegram_support.TOKEN).outgoing} == {"video"}
        # an id Telegram does not know any more: dropped, the URL sent again, the new id kept
        remember_file_id("tg", f"video:{key_of_url(url)}", "BAACstale")
        await adapter.send(photo_to(CHATS[3], video))
        await adapter.send(photo_to(CHATS[4], video))
    finally:
        await adapter.close()
    assert sources(telegram)[3:] == ["url", "file_id"]
    assert known_file_id("tg", f"video:{key_of_url(url)}") not in (None, "BAACstale")
    # the same URL as a document is another file on Telegram's side: its own upload
    document = OutboundAttachment("document", url=url)
    again = telegram_adapter(telegram)
    try:
        await again.send(photo_to(CHATS[5], document))
    finally:
        await again.close()
    assert sources(telegram)[-1] == "url"


@pytest.fixture
async def graph() -> AsyncIterator[GraphEmulator]:
    async with GraphEmulator(
        access_token=whatsapp_support.ACCESS_TOKEN, seconds_per_recipient=0
    ) as emulator:
        yield emulator


async def test_whatsapp_file_is_uploaded_once_then_sent_by_media_id(
    db: peewee.Database, graph: GraphEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "menu.pdf"
    path.write_bytes(b"%PDF-1.4 menu")
    document = OutboundAttachment("document", path=str(path), file_name="menu.pdf")
    numbers = [f"+1631555118{n}" for n in range(5)]

    async def send_all(to: list[str]) -> None:
        adapter = build_adapters(whatsapp_support.settings_for(graph.url))["wa"]
        assert isinstance(adapter, WhatsAppAdapter)
        try:
            await asyncio.gather(
                *(
                    adapter.send(OutboundMessage("wa", n, "Menu", attachments=(document,)))
                    for n in to
                )
            )
        finally:
            await adapter.close()

    await send_all(numbers[:3])
    await send_all(numbers[3:])  # another process: the recorded media id, no upload
    uploads = [c for c in graph.calls if c.path.endswith("/media")]
    assert len(uploads) == 1
    (media_id,) = graph.media
    assert [s.payload["document"]["id"] for s in graph.sent] == [media_id] * 5
    assert {s.to for s in graph.sent} == {n.lstrip("+") for n in numbers}
    assert graph.sent[0].payload["document"]["filename"] == "menu.pdf"


async def test_whatsapp_campaign_url_is_fetched_and_uploaded_once(
    db: peewee.Database, graph: GraphEmulator
) -> None:
    fetched: list[str] = []

    async def photo(request: web.Request) -> web.Response:
        fetched.append(request.path)
        return web.Response(body=b"\xff\xd8 sale photo", content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/sale.jpg", photo)
    async with served(app) as base:
        url = f"{base}/sale.jpg"
        content = CampaignContent("Sale, {first_name}!", media=Media("photo", url=url))
        adapter = build_adapters(whatsapp_support.settings_for(graph.url))["wa"]
        try:
            for n in range(4):
                row = render(content, ClientFields(f"Client{n}"), "whatsapp")
                await adapter.send(
                    OutboundMessage(
                        "wa",
                        f"+1631555119{n}",
                        row.text,
                        attachments=tuple(OutboundAttachment(**a) for a in row.attachments),
                        extra=dict(row.extra),
                    )
                )
            # a link that cannot be fetched is sent as a link: Meta may reach what we cannot
            dead = "http://127.0.0.1:9/gone.jpg"
            await adapter.send(
                OutboundMessage(
                    "wa",
                    "+16315551199",
                    "x",
                    attachments=(OutboundAttachment("photo", url=dead),),
                    extra={"upload_media": True},
                )
            )
        finally:
            await adapter.close()
    assert fetched == ["/sale.jpg"]
    (media_id,) = graph.media
    assert graph.media[media_id].data == b"\xff\xd8 sale photo"
    images = [s.payload["image"] for s in graph.sent]
    assert images[:4] == [{"id": media_id, "caption": f"Sale, Client{n}!"} for n in range(4)]
    assert images[4] == {"link": dead, "caption": "x"}
