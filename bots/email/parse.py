"""One raw mail (bytes from IMAP) as what the store keeps: ``ParsedMail`` -> ``InboundMessage``.

``parse_mail`` never raises: every header and part is read on its own, a piece that cannot be
read is left out and named in ``defects``, and what did parse is kept. Strings are made safe for
any database (no NUL, no lone surrogates from undecodable 8-bit bytes).

Classification: ``bounce`` (a ``multipart/report`` delivery-status notice or a
``message/delivery-status`` part), ``auto_reply`` (``Auto-Submitted`` other than ``no``,
``X-Autoreply``/``X-Autorespond``, ``Precedence: auto_reply``), otherwise ``mail``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any, Literal

from bots.email.html_text import html_to_text
from store.inbound import Attachment, InboundMessage
from store.sanitize import clean_text

MAX_TEXT_CHARS = 200_000  # longer bodies are cut (``extra["text_truncated"]``)
MAX_MESSAGE_ID_CHARS = 400  # Message.dedup_key holds 512 with the "mail:" prefix
MAX_ATTACHMENTS = 100  # metadata entries kept per mail
MAX_DEFECTS = 20
MAX_ADDRESS_CHARS = 320  # Client.messenger_id
MAX_NAME_CHARS = 400  # Client.name

MailKind = Literal["mail", "auto_reply", "bounce"]


@dataclass(frozen=True, slots=True)
class Bounce:
    """A delivery failure notice: which of our mails (its Message-ID) failed, to whom, why."""

    original_message_id: str | None
    recipient: str | None
    reason: str
    failed: bool  # False for "delayed" notices: keep trying, nothing to mark


@dataclass(frozen=True, slots=True)
class ParsedMail:
    kind: MailKind
    dedup_key: str
    sender: str | None  # lowercased address, the client's messenger id
    name: str | None
    subject: str | None
    text: str
    attachments: tuple[Attachment, ...] = ()
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    sent_at: dt.datetime | None = None  # naive UTC
    bounce: Bounce | None = None
    defects: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def inbound(self, bot_name: str, *, uid: int | None = None) -> InboundMessage | None:
        """The store's event for this mail; None when there is no sender to file it under."""
        if self.sender is None:
            return None
        extra: dict[str, Any] = {
            "message_id": self.message_id,
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            **self.extra,
        }
        if uid is not None:
            extra["imap_uid"] = uid
        if self.defects:
            extra["defects"] = list(self.defects)
        return InboundMessage(
            bot_name=bot_name,
            messenger_id=self.sender,
            dedup_key=self.dedup_key,
            text=self.text,
            name=self.name or None,
            attachments=self.attachments,
            platform_message_id=self.message_id,
            sent_at=self.sent_at,
            subject=self.subject,
            extra=extra,
        )


def clean(text: str) -> str:
    """``text`` storable anywhere: surrogate-escaped bytes re-read as UTF-8 (cp1252 when they
    are not UTF-8), then ``store.sanitize.clean_text`` (NUL and other controls dropped)."""
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # not escaped bytes: clean_text replaces the surrogates
            return clean_text(text)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", "replace")
    return clean_text(text)


class _Reader:
    """Reads one message defensively, remembering what could not be read."""

    def __init__(self, message: Message) -> None:
        self.message = message
        self.defects: list[str] = []

    def defect(self, what: str) -> None:
        if len(self.defects) < MAX_DEFECTS and what not in self.defects:
            self.defects.append(what)

    def header(self, name: str, message: Message | None = None) -> str | None:
        source = self.message if message is None else message
        try:
            value = source.get(name)
        except Exception as exc:  # a malformed header must not lose the mail
            self.defect(f"{name}: {type(exc).__name__}")
            value = _raw_header(source, name)
        if value is None:
            return None
        return clean(str(value)).strip()

    def address(self, name: str) -> tuple[str | None, str | None]:
        """``(lowercased address, display name)`` of the first address in header ``name``."""
        try:
            header = self.message.get(name)
            addresses = getattr(header, "addresses", None)
            if addresses:
                first = addresses[0]
                addr = clean(first.addr_spec or "").strip().lower()
                if _plausible(addr):
                    return addr, _name(first.display_name) or self._comment_name(name, addr)
        except Exception as exc:
            self.defect(f"{name}: {type(exc).__name__}")
        raw = _raw_header(self.message, name)
        if raw is None:
            return None, None
        for display, addr in getaddresses([_decode_words(raw)]):
            addr = clean(addr).strip().lower()
            if _plausible(addr):
                return addr, _name(display)
        self.defect(f"{name}: no address")
        return None, None

    def _comment_name(self, name: str, addr: str) -> str | None:
        """The old-style name in a comment, ``bbb@ddd.com (John X. Doe)``: the modern parser
        drops comments, ``getaddresses`` still reads them as the display name."""
        raw = _raw_header(self.message, name)
        if raw is None or "(" not in raw:
            return None
        for display, found in getaddresses([_decode_words(raw)]):
            if found.strip().lower() == addr:
                return _name(display)
        return None


def _plausible(address: str) -> bool:
    """An address a client can be filed under: ``local@domain`` that ``email.headerregistry``
    parses whole, within the column's size."""
    local, at, domain = address.rpartition("@")
    if not (at and local and domain and len(address) <= MAX_ADDRESS_CHARS):
        return False
    if set(address) & set(" <>,;"):
        return False
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, TypeError, HeaderParseError):
        return False
    return bool(parsed.username and parsed.domain)


def _name(display: str | None) -> str | None:
    return " ".join(clean(display or "").split())[:MAX_NAME_CHARS] or None


def _raw_header(message: Message, name: str) -> str | None:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return clean(str(value))
    return None


def _decode_words(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # a broken encoded-word stays as it was written
        return value


def normalise_message_id(value: str | None) -> str | None:
    """``<id@host>`` from a Message-ID-like header value; None when there is none."""
    if not value:
        return None
    match = re.search(r"<[^<>\s]+>", value)
    if match:
        found = match.group(0)
    else:
        token = value.strip().split()[0] if value.strip() else ""
        if not token:
            return None
        found = f"<{token.strip('<>')}>"
    return found[:MAX_MESSAGE_ID_CHARS]


def message_ids(value: str | None) -> tuple[str, ...]:
    """Every ``<id>`` in a References / In-Reply-To value, in order."""
    if not value:
        return ()
    return tuple(m[:MAX_MESSAGE_ID_CHARS] for m in re.findall(r"<[^<>\s]+>", value))


def decode_text_part(part: Message) -> str:
    """The text of a ``text/*`` part in its declared charset (unknown charsets: UTF-8, then
    cp1252, with replacement characters rather than an error)."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return _lines(clean(raw)) if isinstance(raw, str) else ""
    charset = "utf-8"
    with contextlib.suppress(Exception):
        charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8"):
        try:
            return _lines(clean(payload.decode(candidate)))
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    try:
        return _lines(clean(payload.decode(charset, "replace")))
    except (LookupError, ValueError):
        return _lines(clean(payload.decode("cp1252", "replace")))


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _kind_of(mime: str) -> str:
    major = mime.split("/", 1)[0]
    return {"image": "photo", "video": "video", "audio": "audio"}.get(major, "document")


def _walk(part: Message) -> list[Message]:
    """Every leaf part, not descending into attached messages (``message/*``)."""
    if part.get_content_maintype() == "message":
        return [part]
    if part.is_multipart():
        children = part.get_payload()
        out: list[Message] = []
        if isinstance(children, list):
            for child in children:
                if isinstance(child, Message):
                    out.extend(_walk(child))
        return out
    return [part]


def _body(reader: _Reader, message: Message) -> tuple[str, list[Message]]:
    """The plain text of the mail and the parts it came from."""
    plain: Message | None = None
    html: Message | None = None
    if isinstance(message, EmailMessage):
        try:
            plain = message.get_body(preferencelist=("plain",))
            html = message.get_body(preferencelist=("html",))
        except Exception as exc:
            reader.defect(f"body: {type(exc).__name__}")
    if plain is None and html is None:
        for leaf in _walk(message):
            if leaf.get_content_maintype() != "text" or _is_attachment(leaf):
                continue
            subtype = leaf.get_content_subtype()
            if subtype == "plain" and plain is None:
                plain = leaf
            elif subtype == "html" and html is None:
                html = leaf
    used = [p for p in (plain, html) if p is not None]
    if plain is not None:
        text = decode_text_part(plain)
        if text.strip() or html is None:
            return text.strip(), used
    if html is not None:
        return html_to_text(decode_text_part(html)), used
    return "", used


def _is_attachment(part: Message) -> bool:
    try:
        disposition = part.get_content_disposition()
        return disposition == "attachment" or bool(part.get_filename())
    except Exception:
        return True


def _attachments(reader: _Reader, message: Message, body_parts: list[Message]) -> list[Attachment]:
    found: list[Attachment] = []
    for leaf in _walk(message):
        if any(leaf is used for used in body_parts) or len(found) >= MAX_ATTACHMENTS:
            continue
        mime = leaf.get_content_type()
        if mime.startswith("text/") and not _is_attachment(leaf):
            continue  # an inline alternative or footer, already covered by the body
        if mime in ("message/delivery-status", "text/rfc822-headers"):
            continue
        try:
            name = leaf.get_filename()
        except Exception as exc:
            reader.defect(f"attachment name: {type(exc).__name__}")
            name = None
        size: int | None
        try:
            if leaf.get_content_maintype() == "message":
                size = len(leaf.as_bytes(policy=policy.compat32))
            else:
                payload = leaf.get_payload(decode=True)
                size = len(payload) if isinstance(payload, bytes) else None
        except Exception as exc:
            reader.defect(f"attachment size: {type(exc).__name__}")
            size = None
        extra: dict[str, Any] = {}
        try:
            if leaf.get_content_disposition() == "inline":
                extra["inline"] = True
            content_id = leaf.get("Content-ID")
            if content_id:
                extra["content_id"] = clean(str(content_id)).strip()
        except Exception as exc:
            reader.defect(f"attachment headers: {type(exc).__name__}")
        found.append(
            Attachment(
                kind=_kind_of(mime),
                file_name=clean(name) if name else None,
                mime_type=mime,
                size=size,
                extra=extra,
            )
        )
    return found


def _is_bounce(message: Message) -> bool:
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type") or "").lower()
        if report_type == "delivery-status":
            return True
    return any(p.get_content_type() == "message/delivery-status" for p in message.walk())


def _bounce(reader: _Reader, message: Message) -> Bounce:
    recipient: str | None = None
    reason_parts: list[str] = []
    actions: list[str] = []
    original_id: str | None = None
    for part in message.walk():
        mime = part.get_content_type()
        if mime == "message/delivery-status":
            blocks = part.get_payload()
            for block in blocks if isinstance(blocks, list) else []:
                if not isinstance(block, Message):
                    continue
                rcpt = block.get("Final-Recipient") or block.get("Original-Recipient")
                if rcpt and recipient is None:
                    recipient = str(rcpt).split(";", 1)[-1].strip().lower() or None
                action = block.get("Action")
                if action:
                    actions.append(str(action).strip().lower())
                diagnostic = block.get("Diagnostic-Code")
                status = block.get("Status")
                if diagnostic:
                    reason_parts.append(str(diagnostic).split(";", 1)[-1].strip())
                elif status:
                    reason_parts.append(f"status {str(status).strip()}")
        elif mime in ("message/rfc822", "message/global") and original_id is None:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                original_id = normalise_message_id(reader.header("Message-ID", inner[0]))
        elif mime == "text/rfc822-headers" and original_id is None:
            headers = HeaderParser().parsestr(decode_text_part(part), headersonly=True)
            original_id = normalise_message_id(clean(str(headers.get("Message-ID") or "")))
    if original_id is None:
        refs = message_ids(reader.header("In-Reply-To")) or message_ids(reader.header("References"))
        original_id = refs[-1] if refs else None
    if recipient is None:
        recipient = (reader.header("X-Failed-Recipients") or "").lower() or None
    reason = "; ".join(dict.fromkeys(reason_parts)) or (
        reader.header("Subject") or "delivery failed"
    )
    failed = not actions or "failed" in actions
    return Bounce(original_id, recipient, " ".join(reason.split())[:1000], failed)


def _is_auto_reply(reader: _Reader) -> bool:
    if reader.message.get_content_type() == "multipart/report":
        return True  # read receipts and other machine reports: nobody wrote them
    auto_submitted = (reader.header("Auto-Submitted") or "").split(";", 1)[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return True
    for name in ("X-Autoreply", "X-Autorespond"):
        value = reader.header(name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            return True
    return (reader.header("Precedence") or "").strip().lower() == "auto_reply"


def _sent_at(reader: _Reader, now: dt.datetime) -> dt.datetime | None:
    raw = reader.header("Date")
    if not raw:
        return None
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        reader.defect("Date: unparseable")
        return None
    if when.tzinfo is not None:
        try:
            when = when.astimezone(dt.UTC).replace(tzinfo=None)
        except (OverflowError, ValueError):
            return None
    # A sender's clock in the future would sort the dialog wrongly: it arrived now.
    return min(when, now)


def parse_mail(raw: bytes, *, now: dt.datetime | None = None) -> ParsedMail:
    """Parse ``raw`` (RFC 5322 bytes) with ``email.policy.default``; never raises."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    fallback_key = f"mail:sha256:{hashlib.sha256(raw).hexdigest()}"
    try:
        message = message_from_bytes(raw, policy=policy.default)
    except Exception as exc:  # the parser is lenient; this is the last guard
        return ParsedMail("mail", fallback_key, None, None, None, "", defects=(repr(exc),))
    reader = _Reader(message)
    sender, name = reader.address("From")
    for fallback in ("Sender", "Reply-To", "Return-Path"):
        if sender is None:
            sender, fallback_name = reader.address(fallback)
            name = name or fallback_name
    message_id = normalise_message_id(reader.header("Message-ID"))
    in_reply_to_ids = message_ids(reader.header("In-Reply-To"))
    subject = reader.header("Subject")
    kind: MailKind = "mail"
    bounce: Bounce | None = None
    try:
        if _is_bounce(message):
            kind, bounce = "bounce", _bounce(reader, message)
        elif _is_auto_reply(reader):
            kind = "auto_reply"
    except Exception as exc:
        reader.defect(f"classification: {type(exc).__name__}")
    try:
        text, body_parts = _body(reader, message)
    except Exception as exc:
        reader.defect(f"body: {type(exc).__name__}")
        text, body_parts = "", []
    extra: dict[str, Any] = {}
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        extra["text_truncated"] = True
    try:
        attachments = _attachments(reader, message, body_parts)
    except Exception as exc:
        reader.defect(f"attachments: {type(exc).__name__}")
        attachments = []
    try:
        for part in message.walk():
            for defect in getattr(part, "defects", ()):
                reader.defect(type(defect).__name__)
    except Exception as exc:
        reader.defect(f"structure: {type(exc).__name__}")
    return ParsedMail(
        kind=kind,
        dedup_key=f"mail:{message_id}" if message_id else fallback_key,
        sender=sender,
        name=name,
        subject=subject,
        text=text,
        attachments=tuple(attachments),
        message_id=message_id,
        in_reply_to=in_reply_to_ids[0] if in_reply_to_ids else None,
        references=message_ids(reader.header("References")),
        sent_at=_sent_at(reader, now),
        bounce=bounce,
        defects=tuple(reader.defects),
        extra=extra,
    )
