"""How the sender names an outcome: the ``workers.stats`` label of a sent message and of a
permanent error, and the log line of a message given up on (WARNING, with its bot, client
and the platform's code as fields a JSON log keeps)."""

from __future__ import annotations

import logging
from typing import Any

from bots.errors import Blocked, ChannelError, PermanentError, RecipientGone
from store.models import Message

log = logging.getLogger("switchboard.delivery")


def sent_kind(row: Message) -> str:
    """The ``workers.stats.SENT_KINDS`` entry of an outbound row."""
    if isinstance(row.extra, dict) and row.extra.get("template"):
        return "template"
    return "media" if row.attachments else "text"


def failure_reason(exc: ChannelError) -> str:
    """The ``FAILURE_REASONS`` entry of a permanent error (a subclass counts as its base)."""
    for known in (Blocked, RecipientGone, PermanentError):
        if isinstance(exc, known):
            return known.__name__
    return "PermanentError"


def log_fields(row: Message, bot: str, code: str) -> dict[str, Any]:
    """Structured fields of a delivery log line (``--log-format json`` shows them)."""
    return {"bot": bot, "client_id": row.client_id, "message_id": row.id, "code": code}


def log_failed(row: Message, bot: str, code: str, reason: str) -> None:
    """A message given up on: WARNING, with its bot, client and the platform's code."""
    log.warning(
        "bot %s: message %s to client %s failed for good: %s %s",
        bot,
        row.id,
        row.client_id,
        code,
        reason,
        extra=log_fields(row, bot, code),
    )
