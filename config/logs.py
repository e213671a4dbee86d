"""Logging of every process (``serve``, ``worker`` and its children, the CLI): one setup.

* ``fmt="text"``: ``time LEVEL logger: message``; ``fmt="json"`` (``--log-format json``, or
  ``SWITCHBOARD_LOG_FORMAT=json``): one JSON object per line with ``time`` (UTC, ISO 8601),
  ``level``, ``logger``, ``message``, the record's extra fields (``bot``, ``client_id``,
  ``code``, ...) and ``exception`` when there is a traceback — for log shippers.
* Secrets never reach the output: every configured secret's value, a Telegram bot token
  anywhere (``123456:AA...``, also inside Bot API URLs) and the password of a URL
  (``postgresql://user:***@host``) are replaced by ``***`` in the formatted line,
  tracebacks included.
* Repeated identical warnings and errors (for a traceback: the same call, the same
  exception) are collapsed (``CollapseRepeats``): the first is
  written, the repeats within ``window_s`` (60 s) are counted, and the next one after the
  window (or a summary line, when another record comes by) says
  ``(… 57 more in the last minute)``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, SecretStr

FORMATS: Final = ("text", "json")
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED: Final = "***"

_TELEGRAM_TOKEN = re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}")
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/:@\s]*:)[^/@\s]+(?=@)", re.I)
# The attributes every LogRecord has; the rest are a call's ``extra`` fields.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def secrets_of(settings: BaseModel) -> list[str]:
    """Every ``SecretStr`` value inside ``settings`` (nested models and lists included)."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(settings)
    return [secret for secret in found if len(secret) >= 4]  # "" or "x" would blank out text


class Redactor:
    """Replaces secrets in text; ``add`` more at any time (thread safe enough: a new list)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = sorted(set(secrets), key=len, reverse=True)

    def add(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted(set(self._secrets) | set(secrets), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _TELEGRAM_TOKEN.sub(REDACTED, text)
        return _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)


REDACT = Redactor()  # the process's one: ``configure`` adds the configured secrets


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Callable[[str], str] = REDACT) -> None:
        super().__init__(TEXT_FORMAT)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def __init__(self, redact: Callable[[str], str] = REDACT) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created, dt.UTC)
        data: dict[str, Any] = {
            "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in data:
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return self.redact(json.dumps(data, ensure_ascii=False, default=str))


class CollapseRepeats(logging.Filter):
    """Collapses identical WARNING-and-above records (same logger, level and message; for a
    record with a traceback, the same call failing with the same exception) within
    ``window_s`` seconds (default 60) into the first and one count; ``clock``: seconds."""

    def __init__(self, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.window_s = window_s
        self.clock = clock
        self.handler: logging.Handler | None = None  # summaries of quiet keys go out here
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, int, str], _Window] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "collapsed_summary", False) or record.levelno < logging.WARNING:
            self.flush_pending(record)
            return True
        key = (record.name, record.levelno, _identity(record))
        now = self.clock()
        with self._lock:
            window = self._seen.get(key)
            if window is not None and now - window.start < self.window_s:
                window.repeats += 1
                return False
            self._seen[key] = _Window(now, 0, record.getMessage())
        if window is not None and window.repeats:
            _append(record, f" (… {window.repeats} more in the last minute)")
        self.flush_pending(record)
        return True

    def flush_pending(self, current: logging.LogRecord | None, *, everything: bool = False) -> None:
        """Write a summary for every key whose window ended (``everything``: every key) with
        repeats still untold."""
        if current is not None and getattr(current, "collapsed_summary", False):
            return
        now = self.clock()
        with self._lock:
            done = [
                (k, w)
                for k, w in self._seen.items()
                if everything or now - w.start >= self.window_s
            ]
            for key, _ in done:
                del self._seen[key]
        for (name, level, _), window in done:
            if window.repeats and self.handler is not None:
                summary = logging.makeLogRecord(
                    {
                        "name": name,
                        "levelno": level,
                        "levelname": logging.getLevelName(level),
                        "msg": f"{window.message} (… {window.repeats} more in the last minute)",
                        "collapsed_summary": True,
                    }
                )
                self.handler.handle(summary)


class CollapsingHandler(logging.StreamHandler):
    """A stream handler with ``CollapseRepeats``; closing it (``logging.shutdown`` at exit)
    writes the counts still held back."""

    def __init__(self, stream: Any = None, collapse: CollapseRepeats | None = None) -> None:
        super().__init__(stream)
        self.collapse = collapse or CollapseRepeats()
        self.collapse.handler = self
        self.addFilter(self.collapse)

    def close(self) -> None:
        try:
            self.collapse.flush_pending(None, everything=True)
        finally:
            super().close()


@dataclass(slots=True)
class _Window:
    start: float  # clock() of the record written
    repeats: int  # identical records held back since
    message: str  # the written record's message, for the summary


def _identity(record: logging.LogRecord) -> str:
    """What makes two records "the same": the message; for one with a traceback, its format
    string and exception whatever the arguments (a message id), so a flood of one error's
    tracebacks is collapsed too."""
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        return f"{record.msg}\0{type(error).__name__}: {error}"
    return record.getMessage()


def _append(record: logging.LogRecord, suffix: str) -> None:
    record.msg = record.getMessage() + suffix
    record.args = None


def configure(
    fmt: str | None = None,
    level: str | None = None,
    secrets: Iterable[str] = (),
    stream: Any = None,
    *,
    force: bool = False,
) -> logging.Handler | None:
    """Set up the root logger: ``fmt`` ``text`` or ``json`` (default ``$SWITCHBOARD_LOG_FORMAT``,
    then text), ``level`` (default ``$SWITCHBOARD_LOG_LEVEL``, then INFO), ``secrets`` to
    redact, ``stream`` (default stderr). Replaces the handler an earlier call installed; like
    ``logging.basicConfig``, leaves a root logger with someone else's handlers alone (a test
    runner capturing logs) unless ``force``. Returns the handler installed, if any."""
    fmt = (fmt or os.environ.get("SWITCHBOARD_LOG_FORMAT") or "text").lower()
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    REDACT.add(secrets)
    logging.getLogger("peewee.migrations").setLevel(logging.WARNING)
    # httpx (pywa's client) logs every request at INFO ("HTTP Request: POST ..."): noise in a
    # person's terminal after `whatsapp write` and in the service's log; warnings still show.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "switchboard", False)]
    if not force and len(ours) < len(root.handlers):
        return None
    for old in ours if not force else list(root.handlers):
        root.removeHandler(old)
    handler = CollapsingHandler(stream)
    handler.switchboard = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("SWITCHBOARD_LOG_LEVEL") or "INFO").upper())
    return handler
