"""Cleaning what platforms send before it is stored: text every database holds, values clipped
to their columns, ids and timestamps inside what the store can hold and readers can show.

The channels' parsers use these helpers (``clean_text``, ``from_epoch``) and ``store.inbound``
passes every event through ``clean_event`` before writing it, so nothing a client sends can
fail a write (PostgreSQL refuses NUL and over-long values, UTF-8 refuses lone surrogates) or a
later read (a date in year 9999 overflows the conversion to the project's zone).

What was changed is recorded on the message's ``extra``: ``clipped`` lists the fields cut to
their column's size, ``sent_at_replaced`` holds the platform's timestamp (ISO 8601, UTC) when it
was outside ``[2000-01-01, now + 1 day]`` and the receive time was used instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from store.inbound import Attachment, InboundMessage

EARLIEST: Final = dt.datetime(2000, 1, 1)
FUTURE_SLACK: Final = dt.timedelta(days=1)  # clocks drift; a day ahead is still believable
# Column sizes (characters) of what an inbound event writes: store/models.py, Client / Message.
NAME_CHARS: Final = 400
USERNAME_CHARS: Final = 200
LANGUAGE_CHARS: Final = 16
MESSENGER_ID_CHARS: Final = 320
KEY_CHARS: Final = 512  # Message.dedup_key and platform_message_id

# C0 controls except tab (09) and newline (0a); carriage returns are handled before this.
_UNSTORABLE = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff]")
_EPOCH_MIN: Final = -62135596800  # 0001-01-01T00:00:00Z
_EPOCH_MAX: Final = 253402300799  # 9999-12-31T23:59:59Z


def _storable(text: str) -> bool:
    """True when ``clean_text`` leaves ``text`` as it is. ``isprintable`` first: a C loop that
    says yes for most names and ids (no controls, no surrogates) faster than the regex."""
    return text.isprintable() or _UNSTORABLE.search(text) is None


def _replace(match: re.Match[str]) -> str:
    return "\ufffd" if match.group() >= "\ud800" else ""


def clean_text(text: str) -> str:
    """``text`` storable anywhere: lone surrogates become U+FFFD, ``\\r\\n`` and ``\\r`` become
    ``\\n``, NUL and the other C0 controls except tab and newline are removed."""
    if _storable(text):
        return text
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _UNSTORABLE.sub(_replace, text)


def clip(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters, and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[:limit], True


def clip_key(key: str, limit: int = KEY_CHARS) -> str:
    """An identifier that must fit ``limit`` characters and stay unique: a longer one keeps its
    start and ends with a hash of the whole, so two different long ids never become one."""
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{key[: limit - 33]}~{digest}"


def _json_is_clean(value: Any, depth: int = 0) -> bool:
    """True when ``clean_json`` would return ``value`` unchanged (the usual case: a walk
    without building anything)."""
    if isinstance(value, str):
        return _storable(value)
    if isinstance(value, dict):
        return depth <= 64 and all(
            (not isinstance(k, str) or _storable(k)) and _json_is_clean(v, depth + 1)
            for k, v in value.items()
        )
    if isinstance(value, list | tuple):
        return depth <= 64 and all(_json_is_clean(v, depth + 1) for v in value)
    return True


def clean_json(value: Any, depth: int = 0) -> Any:
    """A JSON-like value with every string (keys too) passed through ``clean_text``; nesting
    below 64 levels is dropped (``None``) — the request limits keep real payloads far above.
    A value with nothing to clean is returned as it is."""
    if depth == 0 and _json_is_clean(value):
        return value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        if depth > 64:
            return None
        return {
            (clean_text(k) if isinstance(k, str) else k): clean_json(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        if depth > 64:
            return None
        return [clean_json(v, depth + 1) for v in value]
    return value


def from_epoch(value: Any) -> dt.datetime | None:
    """Epoch seconds (an int, or a string of digits as Meta sends them) as naive UTC; None when
    not a number. Values beyond what ``datetime`` holds are clamped to years 1 and 9999, so
    ``sane_time`` can flag them."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 40 or not text.lstrip("-").isascii():
            return None
        try:
            value = int(text)
        except ValueError:
            return None
    if not isinstance(value, int):
        return None
    seconds = min(max(value, _EPOCH_MIN), _EPOCH_MAX)
    return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)


def sane_time(value: dt.datetime | None, now: dt.datetime) -> tuple[dt.datetime | None, bool]:
    """``(value, False)`` when inside ``[EARLIEST, now + FUTURE_SLACK]`` (or None);
    ``(None, True)`` otherwise: the caller uses the receive time and flags the message."""
    if value is None:
        return None, False
    if value < EARLIEST or value > now + FUTURE_SLACK:
        return None, True
    return value, False


def _clean_optional(value: str | None, limit: int, name: str, clipped: list[str]) -> str | None:
    if value is None:
        return None
    value, cut = clip(clean_text(value), limit)
    if cut:
        clipped.append(name)
    return value


def _clean_attachment(attachment: Attachment) -> Attachment:
    texts = (attachment.kind, attachment.file_id, attachment.file_name, attachment.mime_type)
    if all(t is None or _storable(t) for t in (*texts, attachment.url)) and (
        _json_is_clean(attachment.extra)
    ):
        return attachment
    return dataclasses.replace(
        attachment,
        kind=clean_text(attachment.kind),
        file_id=None if attachment.file_id is None else clean_text(attachment.file_id),
        file_name=None if attachment.file_name is None else clean_text(attachment.file_name),
        mime_type=None if attachment.mime_type is None else clean_text(attachment.mime_type),
        url=None if attachment.url is None else clean_text(attachment.url),
        extra=clean_json(attachment.extra),
    )


def _is_clean(event: InboundMessage, now: dt.datetime) -> bool:
    """True when ``clean_event`` would change nothing: checked first, because it is nearly
    always so and a check costs a fraction of rebuilding the event."""
    sent_at = event.sent_at
    if sent_at is not None and (sent_at < EARLIEST or sent_at > now + FUTURE_SLACK):
        return False
    limited = (
        (event.name, NAME_CHARS),
        (event.username, USERNAME_CHARS),
        (event.language, LANGUAGE_CHARS),
        (event.messenger_id, MESSENGER_ID_CHARS),
        (event.dedup_key, KEY_CHARS),
        (event.platform_message_id, KEY_CHARS),
    )
    if any(v is not None and len(v) > limit for v, limit in limited):
        return False
    texts = [v for v, _ in limited if v is not None]
    texts += [t for t in (event.text, event.avatar_url, event.subject) if t is not None]
    if not all(_storable(t) for t in texts):
        return False
    if not all(_clean_attachment(a) is a for a in event.attachments):
        return False
    if not _json_is_clean(event.variables) or any(len(k) > 200 for k in event.variables):
        return False
    return _json_is_clean(event.extra)


def clean_event(event: InboundMessage, now: dt.datetime) -> InboundMessage:
    """``event`` as the store can hold it (see the module's docstring); ``now`` is naive UTC.
    An event with nothing to change is returned as it is."""
    if _is_clean(event, now):
        return event
    clipped: list[str] = []
    extra = clean_json(event.extra)
    sent_at, replaced = sane_time(event.sent_at, now)
    if replaced and event.sent_at is not None:
        extra["sent_at_replaced"] = event.sent_at.isoformat()
    name = _clean_optional(event.name, NAME_CHARS, "name", clipped)
    username = _clean_optional(event.username, USERNAME_CHARS, "username", clipped)
    language = _clean_optional(event.language, LANGUAGE_CHARS, "language", clipped)
    platform_id = event.platform_message_id
    if platform_id is not None:
        platform_id = clip_key(clean_text(platform_id))
    if clipped:
        extra["clipped"] = sorted(set(clipped) | set(extra.get("clipped") or []))
    return dataclasses.replace(
        event,
        messenger_id=clip_key(clean_text(event.messenger_id), MESSENGER_ID_CHARS),
        dedup_key=clip_key(clean_text(event.dedup_key)),
        text=clean_text(event.text),
        name=name,
        username=username,
        avatar_url=None if event.avatar_url is None else clean_text(event.avatar_url),
        language=language,
        attachments=tuple(_clean_attachment(a) for a in event.attachments),
        platform_message_id=platform_id,
        sent_at=sent_at,
        subject=None if event.subject is None else clean_text(event.subject),
        extra=extra,
        variables={clip(clean_text(k), 200)[0]: clean_text(v) for k, v in event.variables.items()},
    )
