"""Campaign HTML against the Bot API emulator's own reading of ``parse_mode=HTML``: what
Switchboard's check accepts, Telegram parses to the same visible text; long markup is sent
whole (the limits count the visible text); markup that slips past is a permanent error."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bots.contract import OutboundAttachment, OutboundMessage
from bots.errors import PermanentError
from bots.registry import build_adapters
from bots.telegram.adapter import TelegramAdapter
from emulators.telegram import TelegramEmulator
from emulators.telegram.entities import EntityError, visible_text
from store.campaigns.content import CampaignContent, UrlButton, render
from store.campaigns.placeholders import ClientFields
from store.campaigns.telegram_html import HtmlError, plain_text, validate_html
from tests.telegram_support import TOKEN, FakeClock, settings_for

TAGS = ["b", "i", "u", "s", "em", "strong", "ins", "del", "strike", "tg-spoiler", "code"]
WORDS = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)


@st.composite
def markup(draw: st.DrawFn, depth: int = 0) -> str:
    """Well-formed Telegram HTML: escaped text, nested tags, links, entities."""
    pieces = []
    for _ in range(draw(st.integers(0, 3))):
        choice = draw(st.integers(0, 3 if depth < 3 else 0))
        if choice == 0:
            pieces.append(html.escape(draw(WORDS), quote=False))
        elif choice == 1:
            tag = draw(st.sampled_from(TAGS))
            inner = html.escape(draw(WORDS), quote=False) if tag == "code" else None
            pieces.append(
                f"<{tag}>{inner if inner is not None else draw(markup(depth + 1))}</{tag}>"
            )
        elif choice == 2:
            pieces.append(f'<a href="https://x.example/?q={draw(st.integers(0, 99))}&amp;r=1">')
            pieces.append(f"{draw(markup(depth + 1))}</a>")
        else:
            pieces.append(draw(st.sampled_from(["&lt;", "&gt;", "&amp;", "&quot;", "&#128512;"])))
    return "".join(pieces)


@given(markup())
def test_what_switchboard_accepts_telegram_parses_to_the_same_text(text: str) -> None:
    validate_html(text)
    shown = visible_text(text)
    assert plain_text(text, links=False) == shown


@given(st.text(alphabet=st.sampled_from(list('<>/&;ab bi#x1 "=')), max_size=30))
def test_whatever_switchboard_accepts_the_emulator_accepts_too(text: str) -> None:
    try:
        validate_html(text)
    except HtmlError:
        return
    visible_text(text)  # raises EntityError if Telegram would refuse it


@pytest.fixture
async def tg() -> AsyncIterator[tuple[TelegramEmulator, TelegramAdapter]]:
    async with TelegramEmulator(tokens=[TOKEN], clock=FakeClock()) as emu:
        emu.user(TOKEN, 42, first_name="Ann")
        adapter = build_adapters(settings_for(emu.base_url))["tg"]
        assert isinstance(adapter, TelegramAdapter)
        try:
            yield emu, adapter
        finally:
            await adapter.close()


def as_outbound(content: CampaignContent, fields: ClientFields) -> OutboundMessage:
    row = render(content, fields, "telegram")
    extra = dict(row.extra)
    return OutboundMessage(
        "tg",
        "42",
        row.text,
        attachments=tuple(OutboundAttachment(**a) for a in row.attachments),
        reply_markup=extra.pop("reply_markup", None),
        extra=extra,
    )


async def test_long_markup_is_sent_whole_and_shown_without_tags(
    tg: tuple[TelegramEmulator, TelegramAdapter],
) -> None:
    emu, adapter = tg
    # 60 links: the markup is ~5,900 characters, the visible text ~1,400
    links = " ".join(
        f'<a href="https://shop.example/item/{n:060d}">item {n}</a>' for n in range(60)
    )
    content = CampaignContent(
        text=f"<b>{{name}}</b>, see: {links}",
        buttons=(UrlButton("Shop", "https://shop.example"),),
    )
    content.validate()
    message = as_outbound(content, ClientFields("Анна <Smith>"))
    assert len(message.text) > 4096
    result = await adapter.send(message)
    (sent,) = emu.bot(TOKEN).outgoing
    assert result.extra["message_ids"] == [str(sent.message_id)]
    assert sent.text is not None and sent.text.startswith("Анна <Smith>, see: item 0 item 1")
    assert sent.buttons() == [{"text": "Shop", "url": "https://shop.example"}]


async def test_markup_caption_within_1024_visible_characters_stays_a_caption(
    tg: tuple[TelegramEmulator, TelegramAdapter],
) -> None:
    emu, adapter = tg
    emu.files.fetch_urls = False
    bold = "<b>x</b>" * 200  # 1,600 characters of markup, 200 shown
    content = CampaignContent.from_json(
        {"text": bold, "media": {"kind": "photo", "url": "https://cdn.example/p.jpg"}}
    )
    await adapter.send(as_outbound(content, ClientFields()))
    (sent,) = emu.bot(TOKEN).outgoing
    assert (sent.kind, sent.caption) == ("photo", "x" * 200)


async def test_markup_that_skips_the_check_is_refused_by_telegram_for_good(
    tg: tuple[TelegramEmulator, TelegramAdapter],
) -> None:
    _, adapter = tg
    with pytest.raises(PermanentError, match="can't parse entities"):
        await adapter.send(OutboundMessage("tg", "42", "<b>bold", extra={"parse_mode": "HTML"}))
    with pytest.raises(EntityError):
        visible_text("<div>x</div>")
