"""Telegram's HTML formatting: checked before sending, and its plain-text fallback.

Telegram accepts a fixed subset (https://core.telegram.org/bots/api#html-style): ``b strong
i em u ins s strike del code pre a tg-spoiler span blockquote tg-emoji``, with ``href`` on
``a``, ``class="tg-spoiler"`` on ``span``, ``class="language-x"`` on a ``code`` inside
``pre``, ``expandable`` on ``blockquote`` and ``emoji-id`` on ``tg-emoji``. Tags must be
balanced and properly nested; ``<`` and ``&`` that are not markup must be written ``&lt;`` and
``&amp;``; only ``&lt; &gt; &amp; &quot;`` and numeric entities are known. A message Telegram
would refuse with "can't parse entities" is refused here first, in one line naming the place.

``plain_text`` is what WhatsApp and email get: the tags dropped, entities decoded, a link
written ``text (url)`` unless its text is the url.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

# tag -> the attributes it may carry
ALLOWED: dict[str, frozenset[str]] = {
    "b": frozenset(),
    "strong": frozenset(),
    "i": frozenset(),
    "em": frozenset(),
    "u": frozenset(),
    "ins": frozenset(),
    "s": frozenset(),
    "strike": frozenset(),
    "del": frozenset(),
    "tg-spoiler": frozenset(),
    "span": frozenset({"class"}),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "blockquote": frozenset({"expandable"}),
    "tg-emoji": frozenset({"emoji-id"}),
}
NAMED_ENTITIES = frozenset({"lt", "gt", "amp", "quot"})
# inside these no other markup is allowed (a code may sit in a pre)
VERBATIM = frozenset({"code", "pre"})

TAG = re.compile(
    r"<(?P<close>/)?(?P<name>[A-Za-z][A-Za-z0-9-]*)"
    r"(?P<attrs>(?:\s+[A-Za-z][A-Za-z0-9-]*(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*>"
)
ATTR = re.compile(r"([A-Za-z][A-Za-z0-9-]*)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?")
ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]*);")


class HtmlError(ValueError):
    """Text Telegram would refuse to parse; ``str()`` is one line naming where."""


@dataclass(frozen=True, slots=True)
class _Open:
    name: str
    attrs: dict[str, str]
    at: int


def _attrs(raw: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in ATTR.finditer(raw):
        value = match.group(2) or ""
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        found[match.group(1).lower()] = html.unescape(value)
    return found


def _check_open(name: str, attrs: dict[str, str], stack: list[_Open], at: int) -> None:
    unknown = set(attrs) - ALLOWED[name]
    if unknown:
        raise HtmlError(f"<{name}> at {at} may not have the attribute {sorted(unknown)[0]!r}")
    if stack and stack[-1].name in VERBATIM and not (name == "code" and stack[-1].name == "pre"):
        raise HtmlError(f"<{name}> at {at} inside <{stack[-1].name}>: no formatting there")
    if name == "a" and not attrs.get("href", "").strip():
        raise HtmlError(f"<a> at {at} needs an href")
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise HtmlError(f'<span> at {at}: Telegram accepts only <span class="tg-spoiler">')
    in_pre = bool(stack) and stack[-1].name == "pre"
    if (
        name == "code"
        and "class" in attrs
        and not (in_pre and attrs["class"].startswith("language-"))
    ):
        raise HtmlError(f'<code class="..."> at {at}: only class="language-x" inside <pre>')
    if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
        raise HtmlError(f"<tg-emoji> at {at} needs a numeric emoji-id")
    if name == "blockquote" and any(o.name == "blockquote" for o in stack):
        raise HtmlError(f"<blockquote> at {at} inside another blockquote")


def validate_html(text: str) -> None:
    """Raise ``HtmlError`` unless Telegram would parse ``text`` with ``parse_mode=HTML``."""
    stack: list[_Open] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char == "<":
            match = TAG.match(text, at)
            if match is None:
                raise HtmlError(f"'<' at {at} does not start a tag; write &lt; for the character")
            name = match.group("name").lower()
            if name not in ALLOWED:
                raise HtmlError(f"<{name}> at {at} is not a tag Telegram accepts")
            if match.group("close"):
                if not stack:
                    raise HtmlError(f"</{name}> at {at} closes nothing")
                if stack[-1].name != name:
                    raise HtmlError(
                        f"</{name}> at {at} closes <{stack[-1].name}> opened at {stack[-1].at}"
                    )
                stack.pop()
            else:
                attrs = _attrs(match.group("attrs"))
                _check_open(name, attrs, stack, at)
                stack.append(_Open(name, attrs, at))
            at = match.end()
        elif char == "&":
            match = ENTITY.match(text, at)
            if match is None:
                raise HtmlError(f"'&' at {at} is not an entity; write &amp; for the character")
            entity = match.group(0)[1:-1]
            if not entity.startswith("#") and entity not in NAMED_ENTITIES:
                raise HtmlError(f"&{entity}; at {at}: Telegram knows only &lt; &gt; &amp; &quot;")
            if entity.startswith("#") and not _valid_codepoint(entity):
                raise HtmlError(f"&{entity}; at {at} is not a character")
            at = match.end()
        else:
            at += 1
    if stack:
        raise HtmlError(f"<{stack[-1].name}> opened at {stack[-1].at} is never closed")


def _valid_codepoint(entity: str) -> bool:
    digits = entity[1:]
    value = int(digits[1:], 16) if digits[:1] in ("x", "X") else int(digits)
    return 0 < value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF


def plain_text(text: str, *, links: bool = True) -> str:
    """``text`` (valid Telegram HTML) as plain text: tags dropped, entities decoded, links as
    ``text (url)`` (``links=False``: the link's text only, what Telegram shows and counts)."""
    out: list[str] = []
    opened: list[tuple[int, str]] = []  # (where the link's text starts in out, href)
    at = 0
    for match in TAG.finditer(text):
        out.append(html.unescape(text[at : match.start()]))
        name = match.group("name").lower()
        if name == "a" and not match.group("close"):
            opened.append((len(out), _attrs(match.group("attrs")).get("href", "")))
        elif name == "a" and opened:
            start, href = opened.pop()
            label = "".join(out[start:])
            if links and href and label.strip() != href:
                out.append(f" ({href})")
        at = match.end()
    out.append(html.unescape(text[at:]))
    return "".join(out)
