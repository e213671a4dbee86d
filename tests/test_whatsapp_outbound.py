"""Sending with the real pywa client to the Graph API emulator, and the error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bots.contract import OutboundAttachment, OutboundMessage, Template
from bots.errors import (
    Blocked,
    ChannelError,
    PermanentError,
    RecipientGone,
    RetryAfter,
    TransientError,
)
from bots.registry import build_adapters
from bots.whatsapp.adapter import WhatsAppAdapter
from bots.whatsapp.transport import RedirectTransport
from emulators.whatsapp import GraphEmulator
from tests.whatsapp_support import ACCESS_TOKEN, PHONE_ID, settings_for

TO = "+16315551181"


@pytest.fixture
async def graph() -> AsyncIterator[GraphEmulator]:
    async with GraphEmulator(access_token=ACCESS_TOKEN, seconds_per_recipient=0) as emulator:
        yield emulator


@pytest.fixture
async def adapter(graph: GraphEmulator) -> AsyncIterator[WhatsAppAdapter]:
    built = build_adapters(settings_for(graph.url))["wa"]
    assert isinstance(built, WhatsAppAdapter)
    await built.start()
    yield built
    await built.close()


def msg(text: str = "", **kw: Any) -> OutboundMessage:
    return OutboundMessage(bot_name="wa", messenger_id=TO, text=text, **kw)


async def test_text_reaches_the_graph_api_with_the_bearer_token(
    graph: GraphEmulator, adapter: WhatsAppAdapter
) -> None:
    result = await adapter.send(msg("Hello *there*"))
    (sent,) = graph.sent
    assert result.platform_message_id == sent.wamid and sent.wamid.startswith("wamid.")
    assert (sent.phone_number_id, sent.to, sent.type) == (PHONE_ID, "16315551181", "text")
    assert sent.payload["text"]["body"] == "Hello *there*"
    assert graph.calls[0].path == f"/v21.0/{PHONE_ID}/messages"


async def test_media_by_link_by_id_and_by_upload(
    graph: GraphEmulator, adapter: WhatsAppAdapter, tmp_path: Path
) -> None:
    path = tmp_path / "price list.pdf"
    path.write_bytes(b"%PDF-1.4 prices")
    await adapter.send(
        msg("Our menu", attachments=(OutboundAttachment("photo", url="https://cdn.x/menu.jpg"),))
    )
    await adapter.send(msg(attachments=(OutboundAttachment("video", file_id="4242"),)))
    await adapter.send(msg("Prices", attachments=(OutboundAttachment("document", path=str(path)),)))
    audio = OutboundAttachment("audio", url="https://cdn.x/hi.ogg")
    result = await adapter.send(msg("Listen", attachments=(audio,)))
    image, video, document, text, voice = graph.sent
    assert image.payload["image"] == {"link": "https://cdn.x/menu.jpg", "caption": "Our menu"}
    assert video.payload["video"] == {"id": "4242"}
    (media_id,) = graph.media
    assert graph.media[media_id].data == b"%PDF-1.4 prices"
    assert document.payload["document"]["id"] == media_id
    assert document.payload["document"]["filename"] == "price list.pdf"
    assert document.payload["document"]["caption"] == "Prices"
    # Audio has no caption: the text goes first, in its own message.
    assert (text.type, text.payload["text"]["body"], voice.type) == ("text", "Listen", "audio")
    assert result.extra["wamids"] == [text.wamid, voice.wamid]


async def test_template_with_components(graph: GraphEmulator, adapter: WhatsAppAdapter) -> None:
    body = {"type": "body", "parameters": [{"type": "text", "text": "Anna"}]}
    await adapter.send(msg(template=Template("order_ready", "en_US", (body,))))
    (sent,) = graph.sent
    assert sent.payload["template"] == {
        "name": "order_ready",
        "language": {"code": "en_US"},
        "components": [body],
    }
    with pytest.raises(PermanentError, match="unknown template language"):
        await adapter.send(msg(template=Template("order_ready", "klingon")))


async def test_buttons_become_interactive_or_text(
    graph: GraphEmulator, adapter: WhatsAppAdapter
) -> None:
    two = {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}, {"text": "No"}]]}
    await adapter.send(msg("Confirm?", reply_markup=two))
    url = {"inline_keyboard": [[{"text": "Pay", "url": "https://pay.x/1"}]]}
    await adapter.send(msg("Invoice", reply_markup=url))
    many = {"keyboard": [["S"], ["M"], ["L"], ["XL"]]}
    await adapter.send(msg("Size?", reply_markup=many))
    buttons, link, text = graph.sent
    assert buttons.payload["interactive"]["type"] == "button"
    replies = [b["reply"] for b in buttons.payload["interactive"]["action"]["buttons"]]
    assert replies == [{"id": "y", "title": "Yes"}, {"id": "No", "title": "No"}]
    assert link.payload["interactive"]["type"] == "cta_url"
    assert link.payload["interactive"]["action"]["parameters"]["url"] == "https://pay.x/1"
    assert text.payload["text"]["body"] == "Size?\n\n1. S\n2. M\n3. L\n4. XL"


@pytest.mark.parametrize(
    ("code", "status", "expected", "seconds", "scope"),
    [
        (130429, 400, RetryAfter, 1.0, "bot"),
        (80007, 400, RetryAfter, 60.0, "bot"),
        (131048, 400, RetryAfter, 60.0, "bot"),
        (131056, 400, RetryAfter, 6.0, "chat"),
        (131047, 400, PermanentError, None, None),
        (131026, 400, RecipientGone, None, None),
        (131050, 400, Blocked, None, None),
        (131000, 500, TransientError, None, None),
        (131016, 503, TransientError, None, None),
        (100, 400, PermanentError, None, None),
    ],
)
async def test_every_error_code_maps_to_the_contract(
    graph: GraphEmulator,
    adapter: WhatsAppAdapter,
    code: int,
    status: int,
    expected: type[ChannelError],
    seconds: float | None,
    scope: str | None,
) -> None:
    graph.fail_next(code, status=status)
    with pytest.raises(ChannelError) as info:
        await adapter.send(msg("x"))
    error = info.value
    assert type(error) is expected
    assert error.code == str(code)
    if isinstance(error, RetryAfter):
        assert (error.seconds, error.scope) == (seconds, scope)
    if code == 131047:
        assert "template" in error.reason and "24-hour" in error.reason
    # the next message goes through: one failure was scripted
    assert (await adapter.send(msg("y"))).platform_message_id == graph.sent[-1].wamid


async def test_rate_limit_backoff_grows_with_the_attempt(
    graph: GraphEmulator, adapter: WhatsAppAdapter
) -> None:
    waits = []
    for attempt in (1, 2, 3, 30):
        graph.fail_next(130429)
        with pytest.raises(RetryAfter) as info:
            await adapter.send(msg("x", extra={"attempt": attempt}))
        waits.append(info.value.seconds)
    assert waits == [1.0, 2.0, 4.0, 3600.0]


async def test_scripted_numbers_and_real_limits_of_the_emulator(tmp_path: Path) -> None:
    now = [100.0]
    async with GraphEmulator(access_token=ACCESS_TOKEN, clock=lambda: now[0]) as graph:
        graph.window_closed.add("16315551181")
        graph.unknown_numbers.add("15550000000")
        adapter = WhatsAppAdapter(settings_for(graph.url).bots[0])  # type: ignore[arg-type]
        with pytest.raises(PermanentError, match="template"):
            await adapter.send(msg("late reply"))
        await adapter.send(msg(template=Template("hello_world")))  # templates still go out
        with pytest.raises(RetryAfter) as pair:  # one message per 6 s to the same person
            await adapter.send(msg(template=Template("hello_world")))
        assert pair.value.scope == "chat" and pair.value.code == "131056"
        with pytest.raises(RecipientGone):
            await adapter.send(OutboundMessage("wa", "+15550000000", "hi"))
        graph.throughput[PHONE_ID] = 2.0  # two a second for this number
        graph.reset_limits()
        for n in range(2):
            await adapter.send(OutboundMessage("wa", f"+4477009001{n:02d}", "hi"))
        with pytest.raises(RetryAfter) as throughput:
            await adapter.send(OutboundMessage("wa", "+447700900199", "hi"))
        assert throughput.value.scope == "bot" and throughput.value.code == "130429"
        now[0] += 0.5  # half a second later one more message fits
        await adapter.send(OutboundMessage("wa", "+447700900199", "hi"))
        await adapter.close()


async def test_network_failures_and_bad_tokens(graph: GraphEmulator) -> None:
    down = WhatsAppAdapter(settings_for("http://127.0.0.1:9").bots[0])  # type: ignore[arg-type]
    with pytest.raises(TransientError, match="network error"):
        await down.send(msg("x"))
    await down.close()
    wrong = settings_for(graph.url, access_token="EAAwrong").bots[0]
    adapter = WhatsAppAdapter(wrong)  # type: ignore[arg-type]
    with pytest.raises(PermanentError, match="access_token"):
        await adapter.send(msg("x"))
    await adapter.close()
    with pytest.raises(PermanentError, match="not a WhatsApp number"):
        await WhatsAppAdapter(wrong).send(  # type: ignore[arg-type]
            OutboundMessage("wa", "someone@example.com", "x")
        )
    assert graph.sent == []


async def test_media_endpoints_through_pywa(graph: GraphEmulator, adapter: WhatsAppAdapter) -> None:
    media_id = graph.add_media(b"\x89PNG...", "image/png", "photo.png")
    wa = adapter.client()
    info = await wa.get_media_url(media_id)
    assert info.url.startswith("https://lookaside.fbsbx.com/")  # rewritten by the transport
    assert (info.mime_type, info.file_size) == ("image/png", 7)
    assert await wa.get_media_bytes(info.url) == b"\x89PNG..."
    assert await wa.delete_media(media_id)
    assert media_id not in graph.media


async def test_transport_keeps_a_path_prefix_of_the_api_base() -> None:
    import httpx

    seen: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    transport = RedirectTransport("http://127.0.0.1:8082/graph/", httpx.MockTransport(handler))
    async with httpx.AsyncClient(transport=transport) as http:
        await http.get("https://graph.facebook.com/v21.0/123/messages?x=1")
        await http.get("https://example.com/elsewhere")
    assert seen == [
        "http://127.0.0.1:8082/graph/v21.0/123/messages?x=1",
        "https://example.com/elsewhere",
    ]
