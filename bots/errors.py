"""What sending can go wrong with: the small set of classified errors every adapter raises.

The delivery engine acts on the class, never on a platform's own exception:

* ``RetryAfter(seconds)``: the platform said "too many requests, retry after N" — retry after
  exactly ``seconds``; ``scope`` says whether the whole bot must pause or only this chat.
* ``Blocked``: the user blocked the bot or was deactivated — no retry, client unsubscribed.
* ``RecipientGone``: no such chat / number / address — no retry.
* ``PermanentError``: the platform refused the message for a reason an operator can read.
* ``TransientError``: 5xx, network, timeouts — retry with backoff.
"""

from __future__ import annotations

from typing import Literal


class ChannelError(Exception):
    """Base of every classified send error. ``code`` is the platform's own code, if any."""

    retryable = False

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class RetryAfter(ChannelError):
    """Rate limited: retry after ``seconds`` (float, seconds). ``scope`` is ``bot`` or ``chat``."""

    retryable = True

    def __init__(
        self,
        seconds: float,
        *,
        scope: Literal["bot", "chat"] = "bot",
        reason: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(reason or f"too many requests: retry after {seconds:g} s", code=code)
        self.seconds = seconds
        self.scope = scope


class Blocked(ChannelError):
    """The recipient blocked the bot or the account is deactivated."""


class RecipientGone(ChannelError):
    """The chat, number or address does not exist (any more)."""


class PermanentError(ChannelError):
    """Refused for good; ``reason`` tells the operator what to do."""


class TransientError(ChannelError):
    """A passing failure (5xx, network, timeout): worth retrying with backoff.

    ``maybe_delivered``: the request left and no answer came back in time (a timeout), so the
    platform may have the message; a message sent at most once (a campaign's) is then not
    sent again but counted "uncertain" (``workers.sender``)."""

    retryable = True

    def __init__(
        self, reason: str, *, code: str | None = None, maybe_delivered: bool = False
    ) -> None:
        super().__init__(reason, code=code)
        self.maybe_delivered = maybe_delivered
