"""Outbound mail: building a threaded message and sending it with aiosmtplib.

Threading: a reply carries ``In-Reply-To`` (the client's mail it answers), ``References``
(that mail's references plus its id, the last ``MAX_REFERENCES``) and ``Re: <its subject>``,
so mail clients file it in the same conversation. Our ``Message-ID`` is generated here and is
what ``SendResult.platform_message_id`` returns (a bounce finds the message by it).

SMTP failures map onto the channel contract: 4xx -> ``TransientError``; a 5xx refused
recipient -> ``RecipientGone``; refused login -> ``PermanentError`` naming the mailbox and the
server's reason; other 5xx -> ``PermanentError``; connection trouble -> ``TransientError``.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
import re
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from pathlib import Path
from typing import Any, NoReturn

import aiosmtplib

from bots.contract import OutboundMessage
from bots.email.tls import tls_context
from bots.errors import PermanentError, RecipientGone, TransientError
from config import SmtpSettings

MAX_REFERENCES = 20  # enough for threading; some servers refuse very long headers


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    """The client's mail a reply answers: its ``<message-id>``, references and subject."""

    message_id: str
    references: tuple[str, ...] = ()
    subject: str | None = None


def reply_subject(subject: str | None) -> str:
    """``Re: subject`` (not ``Re: Re: ...``); ``Re:`` alone for a mail without a subject."""
    subject = (subject or "").strip()
    if re.match(r"(?i)^(re|aw|sv|ha)\s*:", subject):
        return subject
    return f"Re: {subject}" if subject else "Re:"


def sender_address(from_address: str) -> tuple[str, str]:
    """``(display name, address)`` of the configured ``From`` (``Shop <shop@example.com>``)."""
    pairs = getaddresses([from_address])
    name, addr = pairs[0] if pairs else ("", from_address)
    return name, addr or from_address


def buttons_as_text(markup: dict[str, Any] | None) -> str:
    """Telegram-style buttons as a numbered list (a mail has no buttons)."""
    if not markup:
        return ""
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    labels: list[str] = []
    for row in rows if isinstance(rows, list) else []:
        for button in row if isinstance(row, list) else []:
            if isinstance(button, dict) and button.get("text"):
                url = button.get("url")
                labels.append(f"{button['text']} ({url})" if url else str(button["text"]))
            elif isinstance(button, str):
                labels.append(button)
    return "\n".join(f"{i}. {label}" for i, label in enumerate(labels, 1))


def build_message(
    smtp: SmtpSettings, message: OutboundMessage, thread: ThreadInfo | None
) -> EmailMessage:
    """The mail for ``message``: a reply in ``thread`` when given, else a new conversation."""
    name, addr = sender_address(smtp.from_address)
    domain = addr.rpartition("@")[2] or "localhost"
    mail = EmailMessage()
    mail["From"] = Address(display_name=name, addr_spec=addr) if name else addr
    mail["To"] = message.messenger_id
    if thread is not None:
        mail["Subject"] = message.subject or reply_subject(thread.subject)
        mail["In-Reply-To"] = thread.message_id
        references = [*thread.references, thread.message_id][-MAX_REFERENCES:]
        mail["References"] = " ".join(dict.fromkeys(references))
    else:
        mail["Subject"] = message.subject or ""
    mail["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    mail["Message-ID"] = make_msgid(domain=domain)
    body = message.text
    notes: list[str] = []
    files: list[tuple[Path, str | None, str | None]] = []
    for attachment in message.attachments:
        if attachment.path:
            files.append((Path(attachment.path), attachment.file_name, attachment.mime_type))
        elif attachment.url:
            notes.append(attachment.url)
        else:
            raise PermanentError(
                f"an email cannot carry a {attachment.kind} by platform file id; "
                "give a path or a URL"
            )
    if message.template is not None and not body:
        raise PermanentError("WhatsApp templates cannot be sent by email; give a text")
    buttons = buttons_as_text(message.reply_markup)
    body = "\n\n".join(part for part in (body, buttons, "\n".join(notes)) if part)
    mail.set_content(body or "")
    for path, file_name, mime_type in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PermanentError(f"attachment {path}: {exc.strerror or exc}") from exc
        mime = mime_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, _, subtype = mime.partition("/")
        mail.add_attachment(
            data,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=file_name or path.name,
        )
    return mail


async def send_mail(bot_name: str, smtp: SmtpSettings, mail: EmailMessage, recipient: str) -> None:
    """Hand ``mail`` to the SMTP server for ``recipient``; raises the contract's errors."""
    _, sender = sender_address(smtp.from_address)
    password = smtp.password.get_secret_value() if smtp.password is not None else None
    try:
        await aiosmtplib.send(
            mail,
            sender=sender,
            recipients=[recipient],
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.user,
            password=password,
            use_tls=smtp.security == "tls",
            start_tls=smtp.security == "starttls",
            tls_context=tls_context(smtp.ca_file) if smtp.security != "none" else None,
            timeout=smtp.timeout_s,
        )
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise PermanentError(
            f"mailbox {bot_name}: the SMTP server {smtp.host}:{smtp.port} refused the login "
            f"as {smtp.user!r}: {exc.code} {exc.message}",
            code=str(exc.code),
        ) from exc
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients[0] if exc.recipients else None
        if refused is None:
            raise PermanentError(f"{recipient}: refused by the SMTP server") from exc
        _classify(refused.code, f"{recipient}: {refused.message}", recipient_refused=True)
    except aiosmtplib.SMTPRecipientRefused as exc:
        _classify(exc.code, f"{recipient}: {exc.message}", recipient_refused=True)
    except (
        aiosmtplib.SMTPServerDisconnected,
        aiosmtplib.SMTPConnectError,
        aiosmtplib.SMTPTimeoutError,
    ) as exc:
        # aiosmtplib wraps a refused certificate into SMTPConnectError: retrying cannot help.
        untrusted = exc.__cause__ or exc.__context__
        if isinstance(untrusted, ssl.SSLCertVerificationError):
            raise PermanentError(
                f"mailbox {bot_name}: SMTP server {smtp.host}:{smtp.port}: "
                f"TLS certificate not trusted ({untrusted.verify_message}); set smtp.ca_file "
                "for a private CA"
            ) from exc
        raise TransientError(
            f"SMTP server {smtp.host}:{smtp.port}: {exc.message or type(exc).__name__}"
        ) from exc
    except aiosmtplib.SMTPResponseException as exc:
        _classify(exc.code, f"SMTP server {smtp.host}:{smtp.port}: {exc.message}")
    except aiosmtplib.SMTPException as exc:
        # STARTTLS or AUTH not offered and the like: the settings need changing.
        raise PermanentError(
            f"mailbox {bot_name}: SMTP server {smtp.host}:{smtp.port}: {exc.message}"
        ) from exc
    except ssl.SSLCertVerificationError as exc:
        raise PermanentError(
            f"mailbox {bot_name}: SMTP server {smtp.host}:{smtp.port}: "
            f"TLS certificate not trusted ({exc.verify_message})"
        ) from exc
    except (OSError, TimeoutError) as exc:
        raise TransientError(f"SMTP server {smtp.host}:{smtp.port}: {exc}") from exc


def _classify(code: int, reason: str, *, recipient_refused: bool = False) -> NoReturn:
    text = f"{code} {reason}"
    if 400 <= code < 500:
        raise TransientError(text, code=str(code))
    if recipient_refused and 500 <= code < 600:
        raise RecipientGone(text, code=str(code))
    raise PermanentError(text, code=str(code))
