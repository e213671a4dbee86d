"""The WhatsApp Cloud API adapter: the channel contract for one phone number.

Inbound is the signed webhook (``bots.whatsapp.webhook``). Outbound goes through pywa's async
client (``pywa_async.WhatsApp``) on its own ``httpx.AsyncClient``; with ``api_base`` set, a
``RedirectTransport`` sends pywa's Graph API requests there (the emulator in tests and demos).

What one ``OutboundMessage`` becomes:

* ``template`` set: one template message (name, language code, raw components).
* attachments: one media message each, by ``url`` (a link), ``file_id`` (a media id) or
  ``path`` (uploaded once per bot and file content: the media id is recorded,
  ``bots.media_ids``, and sent to the next recipients for 29 days); the text is the caption
  of the first photo, video or document, or a text message before them when none can carry
  it (audio). A message marked ``extra["upload_media"]`` (a campaign's) fetches a ``url``'s
  file and uploads it once too, the link itself being the fallback when that fails.
* otherwise a text message; ``reply_markup`` buttons become interactive buttons when they
  fit WhatsApp's limits, a numbered list in the text when not (``bots.whatsapp.buttons``).

The ``SendResult`` carries the wamid of the first message sent (``extra["wamids"]``: all) and,
when WhatsApp answers that the recipient's wa_id is another form of the number,
``extra["messenger_id"]``: that wa_id in E.164, the id their replies will come from.
Errors are classified by ``bots.whatsapp.errors.classify``; ``message.extra["attempt"]``
(1-based, default 1) scales the rate-limit backoff.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import pathlib
import re
from typing import Any, ClassVar, Literal

import httpx
from aiohttp import web
from pywa.errors import WhatsAppError
from pywa.types.templates import TemplateLanguage
from pywa_async import WhatsApp
from pywa_async.types import Button, URLButton

from bots.contract import OutboundAttachment, OutboundMessage, SendResult, Template
from bots.errors import PermanentError
from bots.media_ids import MediaIds
from bots.whatsapp.buttons import render_buttons
from bots.whatsapp.errors import classify
from bots.whatsapp.payloads import e164
from bots.whatsapp.transport import graph_session
from bots.whatsapp.webhook import WhatsAppWebhook
from config import Settings, WhatsAppBotSettings
from store.media_uploads import key_of_file, key_of_url

log = logging.getLogger("switchboard.whatsapp")

CAPTIONED = ("photo", "video", "document")
UPLOAD_TYPES: dict[str, Literal["image", "video", "audio", "document"]] = {
    "photo": "image",
    "video": "video",
    "audio": "audio",
}
# Meta keeps an uploaded file 30 days; a recorded media id is used for 29
MEDIA_ID_MAX_AGE = dt.timedelta(days=29)


def _secret(value: Any) -> str:
    return "" if value is None else str(value.get_secret_value())


BSUID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")  # a (parent) business-scoped id


def wa_recipient(messenger_id: str) -> str:
    """Whom the Cloud API sends to: the digits of the E.164 number (``+1650...`` ->
    ``1650...``, sent as ``to``), or a business-scoped user id as it came (``US.1349...``,
    sent as ``recipient`` by pywa) for a client whose phone number is not known."""
    value = messenger_id.strip()
    if BSUID.fullmatch(value):
        return value
    digits = value.removeprefix("+")
    if not digits.isdigit():
        raise PermanentError(
            f"not a WhatsApp number or user id: {messenger_id!r} (expected E.164, +digits, "
            "or a BSUID such as US.13491208655302741918)"
        )
    return digits


class WhatsAppAdapter:
    """One configured WhatsApp bot (``WhatsAppBotSettings``)."""

    kind: ClassVar[str] = "whatsapp"

    def __init__(self, bot: WhatsAppBotSettings, settings: Settings | None = None) -> None:
        self.bot = bot
        self.name = bot.name
        self.settings = settings
        self.webhook = WhatsAppWebhook(
            bot.name,
            bot.phone_number_id or "",
            _secret(bot.app_secret),
            _secret(bot.verify_token),
        )
        self._session: httpx.AsyncClient | None = None
        self._client: WhatsApp | None = None
        self.media_ids = MediaIds(bot.name, MEDIA_ID_MAX_AGE)

    def add_routes(self, app: web.Application) -> None:
        self.webhook.add_routes(app)

    async def start(self) -> None:
        self.client()

    def client(self) -> WhatsApp:
        """pywa's client, created on first use."""
        if self._client is None:
            self._session = graph_session(self.bot.api_base)
            self._client = WhatsApp(
                phone_id=self.bot.phone_number_id,
                token=_secret(self.bot.access_token),
                session=self._session,
                api_version=self.bot.api_version.lstrip("vV"),
            )
        return self._client

    async def close(self) -> None:
        if self._session is not None:
            await self._session.aclose()
        self._session = None
        self._client = None

    async def send(self, message: OutboundMessage) -> SendResult:
        to = wa_recipient(message.messenger_id)
        attempt = int(message.extra.get("attempt", 1) or 1)
        try:
            sent = await self._send(to, message)
        except (WhatsAppError, httpx.HTTPError) as exc:
            raise classify(
                exc, attempt=attempt, seconds_per_recipient=self.bot.seconds_per_recipient
            ) from exc
        except ValueError as exc:  # pywa refusing the arguments before any request
            raise PermanentError(f"cannot send this message on WhatsApp: {exc}") from exc
        wamids = [str(s.id) for s in sent]
        extra: dict[str, Any] = {"wamids": wamids}
        # WhatsApp may know the person under another form of the number (the wa_id of some
        # Mexican, Argentinian and Brazilian numbers differs from E.164): report it so the
        # client is filed under the id their replies will come from.
        wa_id = str(getattr(getattr(sent[0], "chat", None), "id", "") or "")
        if wa_id.isdigit() and e164(wa_id) != message.messenger_id:
            extra["messenger_id"] = e164(wa_id)
        return SendResult(wamids[0], extra=extra)

    async def _send(self, to: str, message: OutboundMessage) -> list[Any]:
        wa = self.client()
        reply_to = message.reply_to
        if message.template is not None:
            return [await self._send_template(wa, to, message.template, reply_to)]
        rendered = render_buttons(message.text, message.reply_markup)
        sent_all: list[Any] = []
        attachments = list(message.attachments)
        caption_at = next((i for i, a in enumerate(attachments) if a.kind in CAPTIONED), None)
        buttons: Any = list(_pywa_buttons(rendered)) or None
        if rendered.link is not None:
            buttons = URLButton(title=rendered.link.title, url=rendered.link.url)
        if rendered.text and caption_at is None:
            sent = await wa.send_message(
                to=to, text=rendered.text, buttons=buttons, reply_to_message_id=reply_to
            )
            sent_all.append(sent)
        for i, attachment in enumerate(attachments):
            # Text and buttons ride on the captioned medium (an interactive message with the
            # medium as its header): one request, so a refusal cannot leave half of it sent.
            caption, markup = (rendered.text, buttons) if i == caption_at else (None, None)
            if attachment.url and message.extra.get("upload_media"):
                attachment = await self._url_uploaded(wa, attachment, attachment.url)
            sent_all.append(
                await self._send_media(wa, to, attachment, caption, reply_to, buttons=markup)
            )
        if not sent_all:
            raise PermanentError("nothing to send: no text, attachment or template")
        return sent_all

    async def _send_template(
        self, wa: WhatsApp, to: str, template: Template, reply_to: str | None
    ) -> Any:
        language = TemplateLanguage._value2member_map_.get(template.language)
        if not isinstance(language, TemplateLanguage):
            raise PermanentError(f"unknown template language code {template.language!r}")
        sent = await wa.send_template(
            to=to,
            name=template.name,
            language=language,
            params=[dict(c) for c in template.components] or None,
            reply_to_message_id=reply_to,
        )
        return sent

    async def _send_media(
        self,
        wa: WhatsApp,
        to: str,
        attachment: OutboundAttachment,
        caption: str | None,
        reply_to: str | None,
        *,
        buttons: Any = None,
    ) -> Any:
        media: Any = attachment.url or attachment.file_id
        if media is None and attachment.path:
            media = await self._uploaded(wa, attachment, attachment.path)
        if media is None:
            raise PermanentError("an attachment needs a url, a file_id or a path")
        common: dict[str, Any] = {"to": to, "reply_to_message_id": reply_to}
        if attachment.kind == "photo":
            sent: Any = await wa.send_image(
                image=media,
                caption=caption,
                buttons=buttons,
                mime_type=attachment.mime_type,
                **common,
            )
        elif attachment.kind == "video":
            sent = await wa.send_video(
                video=media,
                caption=caption,
                buttons=buttons,
                mime_type=attachment.mime_type,
                **common,
            )
        elif attachment.kind == "audio":
            sent = await wa.send_audio(audio=media, mime_type=attachment.mime_type, **common)
        else:
            sent = await wa.send_document(
                document=media,
                filename=attachment.file_name or _name_of(attachment.path or media),
                caption=caption,
                buttons=buttons,
                mime_type=attachment.mime_type,
                **common,
            )
        return sent

    async def _uploaded(self, wa: WhatsApp, attachment: OutboundAttachment, path: str) -> str:
        """The media id of the file at ``path``: recorded, else uploaded once and recorded."""
        try:
            key = await asyncio.to_thread(key_of_file, path)
        except OSError as exc:
            raise PermanentError(f"cannot read the attachment {path}: {exc.strerror}") from None
        return await self._media_id(wa, attachment, key, pathlib.Path(path))

    async def _url_uploaded(
        self, wa: WhatsApp, attachment: OutboundAttachment, url: str
    ) -> OutboundAttachment:
        """The attachment by the media id of the file at ``url`` (fetched and uploaded once);
        as it was (a link Meta fetches) when the file cannot be fetched or uploaded."""
        try:
            media_id = await self._media_id(wa, attachment, key_of_url(url), url)
        except (WhatsAppError, httpx.HTTPError, ValueError) as exc:
            log.info("bot %s: cannot upload %s (%s); sending the link", self.name, url, exc)
            return attachment
        name = attachment.file_name or _name_of(url)
        return dataclasses.replace(attachment, url=None, file_id=media_id, file_name=name)

    async def _media_id(
        self, wa: WhatsApp, attachment: OutboundAttachment, key: str, source: pathlib.Path | str
    ) -> str:
        known = await self.media_ids.known(key)
        if known is not None:
            return known
        async with self.media_ids.first_upload(key):
            known = await self.media_ids.known(key)  # the send that held the lock uploaded it
            if known is not None:
                return known
            uploaded = await wa.upload_media(
                media=source,
                mime_type=attachment.mime_type,
                filename=attachment.file_name,
                media_type=UPLOAD_TYPES.get(attachment.kind, "document"),
                dl_session=self._session,
            )
            await self.media_ids.remember(key, str(uploaded.id))
            return str(uploaded.id)


def _name_of(media: Any) -> str | None:
    name = pathlib.PurePosixPath(str(media).split("?", 1)[0]).name
    return name or None


def _pywa_buttons(rendered: Any) -> list[Button]:
    return [Button(title=b.title, callback_data=b.id) for b in rendered.reply]
