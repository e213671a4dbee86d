"""Buttons of ``OutboundMessage.reply_markup`` (Telegram's shape) on WhatsApp.

WhatsApp has up to 3 reply buttons (titles up to 20 characters, ids up to 256) or one
call-to-action URL button. Markup that fits becomes those; anything else degrades to a
numbered list under the text (``1. Title`` / ``2. Title: https://...``), as the contract says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_REPLY_BUTTONS = 3
MAX_TITLE = 20
MAX_ID = 256
MAX_URL_BUTTON_TITLE = 20


@dataclass(frozen=True, slots=True)
class ReplyButton:
    title: str
    id: str


@dataclass(frozen=True, slots=True)
class LinkButton:
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class RenderedButtons:
    """Either ``reply`` buttons, one ``link`` button, or nothing but ``text`` (degraded)."""

    text: str
    reply: tuple[ReplyButton, ...] = ()
    link: LinkButton | None = None


def markup_buttons(markup: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every button of ``inline_keyboard`` / ``keyboard`` rows, in order."""
    if not markup:
        return []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    buttons: list[dict[str, Any]] = []
    for row in rows if isinstance(rows, list) else []:
        for button in row if isinstance(row, list) else [row]:
            if isinstance(button, str):
                buttons.append({"text": button})
            elif isinstance(button, dict) and button.get("text"):
                buttons.append(button)
    return buttons


def render_buttons(text: str, markup: dict[str, Any] | None) -> RenderedButtons:
    """How ``text`` with ``markup`` is sent: interactive buttons when they fit, else text."""
    buttons = markup_buttons(markup)
    if not buttons:
        return RenderedButtons(text)
    if text:  # interactive messages need a body
        if len(buttons) == 1 and buttons[0].get("url"):
            title = str(buttons[0]["text"])
            if len(title) <= MAX_URL_BUTTON_TITLE:
                return RenderedButtons(text, link=LinkButton(title, str(buttons[0]["url"])))
        if len(buttons) <= MAX_REPLY_BUTTONS and not any(b.get("url") for b in buttons):
            reply = tuple(
                ReplyButton(str(b["text"]), str(b.get("callback_data") or b["text"]))
                for b in buttons
            )
            fits = all(len(b.title) <= MAX_TITLE and len(b.id) <= MAX_ID for b in reply)
            if fits and len({b.id for b in reply}) == len(reply):
                return RenderedButtons(text, reply=reply)
    lines = [
        f"{n}. {b['text']}: {b['url']}" if b.get("url") else f"{n}. {b['text']}"
        for n, b in enumerate(buttons, 1)
    ]
    return RenderedButtons("\n".join([text, "", *lines]) if text else "\n".join(lines))
