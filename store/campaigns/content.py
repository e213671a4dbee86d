"""What a campaign sends: ``CampaignContent``, checked once, rendered per client and platform.

A content is a text in Telegram's HTML (``store.campaigns.telegram_html``), at most one photo,
video or document, URL buttons, a WhatsApp template with its body parameters, and an email
subject; any text part may hold placeholders (``store.campaigns.placeholders``).
``CampaignContent.from_json`` / ``to_json`` keep it in a campaign row; ``validate`` raises
``ContentError`` with one line naming the first problem (nothing is stored or sent then).

``render(content, fields, platform)`` is the outbox row for one client (``OutboxFields``:
``store.outbox.enqueue``'s text, subject, attachments and extra), per platform:

* telegram: the HTML text with ``parse_mode=HTML``, the values HTML-escaped; the buttons as
  an ``inline_keyboard`` (one per row); the media as the attachment (its text the caption);
* whatsapp: the plain-text fallback, the buttons as ``reply_markup`` (the adapter makes one
  a call-to-action button, several a list of links, ``bots.whatsapp.buttons``), a media URL
  marked ``upload_media`` (fetched and uploaded once, then sent by media id); with a
  template and ``in_window=False`` (the client has not written in 24 hours) the template
  instead, its parameters filled;
* email: the plain-text fallback, the subject, the buttons as links under the text.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from store.campaigns.placeholders import (
    ClientFields,
    Part,
    Placeholder,
    PlaceholderError,
    fill,
    parse,
)
from store.campaigns.telegram_html import HtmlError, plain_text, validate_html
from store.errors import StoreError

MEDIA_KINDS = ("photo", "video", "document")
PLATFORMS = ("telegram", "whatsapp", "email")
MAX_TEXT = 4096  # Telegram's message length (after the markup is parsed)
MAX_CAPTION = 1024
MAX_BUTTONS = 10
MAX_BUTTON_TEXT = 64
MAX_SUBJECT = 998  # RFC 5322 line length
URL_SCHEMES = ("http", "https", "tg")


class ContentError(StoreError):
    """A campaign content that cannot be sent; ``str()`` is one line naming the problem."""


@dataclass(frozen=True, slots=True)
class Media:
    """One file: by ``url`` or local ``path`` (a ``file_id`` is learned when first sent)."""

    kind: Literal["photo", "video", "document"]
    url: str | None = None
    path: str | None = None
    file_name: str | None = None
    mime_type: str | None = None


@dataclass(frozen=True, slots=True)
class UrlButton:
    text: str
    url: str


@dataclass(frozen=True, slots=True)
class WhatsAppTemplate:
    """An approved template: ``name``, ``language`` code, body parameters (``{{1}}``...)."""

    name: str
    language: str = "en_US"
    params: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutboxFields:
    """One outbox row's content: the arguments of ``store.outbox.enqueue``."""

    text: str
    subject: str | None = None
    attachments: tuple[dict[str, Any], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CampaignContent:
    text: str = ""
    media: Media | None = None
    buttons: tuple[UrlButton, ...] = ()
    template: WhatsAppTemplate | None = None
    subject: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | dict[str, Any]) -> CampaignContent:
        """The content of ``raw`` (JSON text or its dict), validated; ``ContentError`` if not."""
        try:
            data = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError as exc:
            raise ContentError(f"content is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ContentError("content must be a JSON object")
        content = _read(data)
        content.validate()
        return content

    def validate(self) -> None:
        """Raise ``ContentError`` naming the first thing that would fail on a platform."""
        if not self.text.strip() and self.media is None and self.template is None:
            raise ContentError("content is empty: give a text, a media or a template")
        html_text = _checked(self.text, "text")
        try:
            validate_html(html_text)
        except HtmlError as exc:
            raise ContentError(f"text: {exc}") from None
        limit = MAX_CAPTION if self.media is not None else MAX_TEXT
        if len(plain_text(html_text, links=False)) > limit:  # Telegram counts what it shows
            what = "a caption" if self.media is not None else "a message"
            raise ContentError(f"text: over {limit} characters, the limit of {what}")
        if self.media is not None:
            _check_media(self.media)
        if len(self.buttons) > MAX_BUTTONS:
            raise ContentError(f"buttons: at most {MAX_BUTTONS}")
        for n, button in enumerate(self.buttons, 1):
            if not _checked(button.text, f"button {n}").strip():
                raise ContentError(f"button {n}: the text is empty")
            if len(button.text) > MAX_BUTTON_TEXT:
                raise ContentError(f"button {n}: text over {MAX_BUTTON_TEXT} characters")
            _check_url(_checked(button.url, f"button {n} url"), f"button {n}")
        if self.template is not None:
            if not self.template.name.strip():
                raise ContentError("template: the name is empty")
            for n, param in enumerate(self.template.params, 1):
                _checked(param, f"template parameter {n}")
        if self.subject is not None:
            if "\n" in self.subject or "\r" in self.subject:
                raise ContentError("subject: one line only")
            if len(_checked(self.subject, "subject")) > MAX_SUBJECT:
                raise ContentError(f"subject: over {MAX_SUBJECT} characters")

    def sendable_on(self, platform: str) -> bool:
        """Whether ``render`` has something to send on ``platform`` (a content that is only a
        WhatsApp template has nothing for Telegram or email: the plan skips those clients)."""
        return platform == "whatsapp" or bool(self.text.strip()) or self.media is not None

    def placeholders(self) -> list[Placeholder]:
        """Every placeholder of every part, each once, in order of appearance."""
        return list(self.placeholder_platforms())

    def placeholder_platforms(self) -> dict[Placeholder, frozenset[str]]:
        """Each placeholder (in order of appearance) and the platforms whose messages use it:
        the text and buttons go everywhere, the subject to email, the template's parameters to
        WhatsApp."""
        everywhere = frozenset(PLATFORMS)
        uses: list[tuple[str, frozenset[str]]] = [(self.text, everywhere)]
        uses += [(b.text, everywhere) for b in self.buttons]
        uses += [(b.url, everywhere) for b in self.buttons]
        uses.append((self.subject or "", frozenset({"email"})))
        uses += [
            (p, frozenset({"whatsapp"})) for p in (self.template.params if self.template else ())
        ]
        found: dict[Placeholder, frozenset[str]] = {}
        for text, platforms in uses:
            for part in _parts(text, "content"):
                if isinstance(part, Placeholder):
                    found[part] = found.get(part, frozenset()) | platforms
        return found


def _fields(data: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ContentError(f"{where} must be a JSON object")
    unknown = set(data) - allowed
    if unknown:
        raise ContentError(f"{where} has an unknown field {sorted(map(str, unknown))[0]!r}")
    return data


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ContentError(f"{where} must be a string")
    return value


def _optional(value: Any, where: str) -> str | None:
    return None if value is None else _string(value, where)


def _items(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ContentError(f"{where} must be a list")
    return value


def _read(raw: Any) -> CampaignContent:
    """The content of a decoded JSON object; ``ContentError`` naming a part of the wrong shape."""
    data = _fields(raw, {"text", "media", "buttons", "template", "subject"}, "content")
    media = None
    if data.get("media") is not None:
        m = _fields(data["media"], {"kind", "url", "path", "file_name", "mime_type"}, "media")
        media = Media(
            _string(m.get("kind"), "media.kind"),  # type: ignore[arg-type]  # checked later
            url=_optional(m.get("url"), "media.url"),
            path=_optional(m.get("path"), "media.path"),
            file_name=_optional(m.get("file_name"), "media.file_name"),
            mime_type=_optional(m.get("mime_type"), "media.mime_type"),
        )
    buttons = []
    for n, item in enumerate(_items(data.get("buttons"), "buttons"), 1):
        b = _fields(item, {"text", "url"}, f"button {n}")
        buttons.append(
            UrlButton(
                _string(b.get("text"), f"button {n} text"), _string(b.get("url"), f"button {n} url")
            )
        )
    template = None
    if data.get("template") is not None:
        t = _fields(data["template"], {"name", "language", "params"}, "template")
        params = _items(t.get("params"), "template.params")
        template = WhatsAppTemplate(
            _string(t.get("name"), "template.name"),
            _optional(t.get("language"), "template.language") or "en_US",
            tuple(_string(p, f"template parameter {n}") for n, p in enumerate(params, 1)),
        )
    return CampaignContent(
        text=_optional(data.get("text"), "text") or "",
        media=media,
        buttons=tuple(buttons),
        template=template,
        subject=_optional(data.get("subject"), "subject"),
    )


def _parts(text: str, where: str) -> list[Part]:
    try:
        return parse(text)
    except PlaceholderError as exc:
        raise ContentError(f"{where}: {exc}") from None


def _checked(text: str, where: str) -> str:
    """``text`` with every placeholder as ``x``, once its placeholders are known to parse."""
    return fill(_parts(text, where), ClientFields(), lambda _value: "x")


def _check_media(media: Media) -> None:
    if media.kind not in MEDIA_KINDS:
        raise ContentError(f"media: kind must be one of {', '.join(MEDIA_KINDS)}")
    if (media.url is None) == (media.path is None):
        raise ContentError("media: give either a url or a path")
    if media.url is not None:
        _check_url(media.url, "media", schemes=("http", "https"))


def _check_url(url: str, where: str, schemes: tuple[str, ...] = URL_SCHEMES) -> None:
    parts = urlsplit(url.strip())
    if parts.scheme not in schemes or not (parts.netloc or parts.scheme == "tg"):
        raise ContentError(f"{where}: {url!r} is not a {'/'.join(schemes)} URL")


def _media_row(media: Media) -> dict[str, Any]:
    row: dict[str, Any] = {"kind": media.kind}
    for key in ("url", "path", "file_name", "mime_type"):
        value = getattr(media, key)
        if value is not None:
            row[key] = value
    return row


def _buttons(content: CampaignContent, fields: ClientFields) -> dict[str, Any] | None:
    if not content.buttons:
        return None
    rows = [
        [{"text": fill(b.text, fields), "url": fill(b.url, fields, lambda v: quote(v, safe=""))}]
        for b in content.buttons
    ]
    return {"inline_keyboard": rows}


def render(
    content: CampaignContent, fields: ClientFields, platform: str, *, in_window: bool = True
) -> OutboxFields:
    """The outbox row for one client on ``platform`` (see the module's docstring)."""
    if platform not in PLATFORMS:
        raise ContentError(f"unknown platform {platform!r}")
    attachments = (_media_row(content.media),) if content.media is not None else ()
    markup = _buttons(content, fields)
    extra: dict[str, Any] = {}
    only_template = not content.text.strip() and content.media is None
    if not content.sendable_on(platform):
        raise ContentError(f"nothing to send on {platform}: the content is a WhatsApp template")
    if platform == "whatsapp" and content.template is not None and (only_template or not in_window):
        params = [fill(p, fields) for p in content.template.params]
        components = (
            [{"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}]
            if params
            else []
        )
        template = {
            "name": content.template.name,
            "language": content.template.language,
            "components": components,
        }
        return OutboxFields("", None, (), {"template": template})
    if markup is not None:
        extra["reply_markup"] = markup
    if platform == "telegram":
        text = fill(content.text, fields, lambda v: html.escape(v, quote=True))
        if content.text:
            extra["parse_mode"] = "HTML"
        return OutboxFields(text, None, attachments, extra)
    if platform == "whatsapp" and content.media is not None and content.media.url:
        extra["upload_media"] = True  # one upload, then the media id (bots.whatsapp.adapter)
    text = plain_text(fill(content.text, fields, lambda v: html.escape(v, quote=True)))
    subject = fill(content.subject, fields) if platform == "email" and content.subject else None
    return OutboxFields(text, subject, attachments, extra)
