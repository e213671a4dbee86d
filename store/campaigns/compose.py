"""A campaign's content written as one message (the admin bot's ``/campaign``): the text, then
optional part lines at the end.

::

    <b>Friday sale</b>, {first_name|friend}: 20% off in {var:Город|your city}!
    photo: https://cdn.example/sale.jpg
    button: Shop now | https://shop.example/sale
    subject: Friday sale
    template: sale_ru ru | {first_name|friend} | {var:Город|your city}

Part lines (``photo:``, ``video:``, ``document:`` with a URL; ``button: TEXT | URL``, any
number; ``subject:``; ``template: NAME [LANGUAGE] | PARAM | ...``) are read from the end of the
message up to the first line that is not one; everything before is the text. Media come by
URL only: a path would let whoever writes the message send files of the server.
"""

from __future__ import annotations

import re

from store.campaigns.content import (
    CampaignContent,
    ContentError,
    Media,
    UrlButton,
    WhatsAppTemplate,
)

PART = re.compile(r"^(photo|video|document|button|subject|template)\s*:\s*(.*)$", re.IGNORECASE)
PART_NAMES = "photo:, video:, document:, button:, subject:, template:"


def compose(message: str) -> CampaignContent:
    """The content ``message`` describes, validated; ``ContentError`` naming the problem."""
    lines = message.strip().splitlines()
    parts: list[tuple[str, str]] = []
    while lines:
        match = PART.match(lines[-1].strip())
        if match is None:
            break
        parts.insert(0, (match.group(1).lower(), match.group(2).strip()))
        lines.pop()
    media: Media | None = None
    buttons: list[UrlButton] = []
    subject: str | None = None
    template: WhatsAppTemplate | None = None
    for name, value in parts:
        if not value:
            raise ContentError(f"{name}: is empty")
        if name in ("photo", "video", "document"):
            if media is not None:
                raise ContentError(f"{name}: one photo, video or document per campaign")
            media = Media(name, url=value)  # type: ignore[arg-type]  # a MEDIA_KINDS name
        elif name == "button":
            pieces = split_bars(value)
            if len(pieces) < 2:
                raise ContentError(f"button: write it as TEXT | URL, not {value!r}")
            buttons.append(UrlButton("|".join(pieces[:-1]).strip(), pieces[-1].strip()))
        elif name == "subject":
            if subject is not None:
                raise ContentError("subject: given twice")
            subject = value
        else:
            if template is not None:
                raise ContentError("template: given twice")
            template = _template(value)
    content = CampaignContent(
        text="\n".join(lines).strip(),
        media=media,
        buttons=tuple(buttons),
        template=template,
        subject=subject,
    )
    content.validate()
    return content


def split_bars(value: str) -> list[str]:
    """``value`` split at each ``|`` outside braces (a placeholder's ``|default`` stays)."""
    pieces: list[str] = []
    depth = start = 0
    for at, char in enumerate(value):
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(depth - 1, 0)
        elif char == "|" and depth == 0:
            pieces.append(value[start:at])
            start = at + 1
    pieces.append(value[start:])
    return pieces


def _template(value: str) -> WhatsAppTemplate:
    head, *params = [p.strip() for p in split_bars(value)]
    words = head.split()
    if not 1 <= len(words) <= 2:
        raise ContentError(f"template: write it as NAME [LANGUAGE] | PARAM | ..., not {value!r}")
    language = words[1] if len(words) == 2 else "en_US"
    return WhatsAppTemplate(words[0], language, tuple(params))


def describe(content: CampaignContent) -> str:
    """The content as ``compose`` reads it back (for showing the operator what was read)."""
    lines = [content.text] if content.text else []
    if content.media is not None:
        lines.append(f"{content.media.kind}: {content.media.url or content.media.path}")
    lines += [f"button: {b.text} | {b.url}" for b in content.buttons]
    if content.subject is not None:
        lines.append(f"subject: {content.subject}")
    if content.template is not None:
        t = content.template
        lines.append(" | ".join([f"template: {t.name} {t.language}", *t.params]))
    return "\n".join(lines)
