"""Cloud API errors -> the channel contract's classified errors (``bots.errors``).

=========================  =========================================================
Cloud API code             becomes
=========================  =========================================================
130429 throughput          ``RetryAfter(1 s * 2**(attempt-1), scope="bot")``
80007 WABA rate limit      ``RetryAfter(60 s * 2**(attempt-1), scope="bot")``
131048 spam rate limit     ``RetryAfter(60 s * 2**(attempt-1), scope="bot")``
131056 pair rate limit     ``RetryAfter(seconds_per_recipient (6 s), scope="chat")``
131047 24-hour window      ``PermanentError`` telling the operator to send a template
131026 undeliverable       ``RecipientGone``
131050 stopped marketing   ``Blocked``
190 / HTTP 401 auth        ``PermanentError`` (fix the access token)
HTTP 5xx, 1, 2, 131000,    ``TransientError``
131016, network, timeout
anything else              ``PermanentError`` with Meta's message
=========================  =========================================================

Meta gives no retry-after for its rate limits, hence the exponential backoff on ``attempt``
(1 for a first try; the delivery engine passes its count), capped at ``MAX_BACKOFF_S``.
"""

from __future__ import annotations

import httpx
from pywa.errors import WhatsAppError

from bots.errors import (
    Blocked,
    ChannelError,
    PermanentError,
    RecipientGone,
    RetryAfter,
    TransientError,
)

MAX_BACKOFF_S = 3600.0
BACKOFF_BASE_S = {130429: 1.0, 80007: 60.0, 131048: 60.0}
TRANSIENT_CODES = frozenset({1, 2, 131000, 131016})
WINDOW_CLOSED_REASON = (
    "the 24-hour customer service window is closed (the client has not written in the last "
    "24 hours): send an approved template instead, e.g. with `./switchboard whatsapp write`"
)


def backoff(base_s: float, attempt: int) -> float:
    """``base_s * 2**(attempt-1)`` seconds, at most ``MAX_BACKOFF_S``."""
    return min(MAX_BACKOFF_S, base_s * 2 ** max(0, min(attempt - 1, 20)))


def classify(
    exc: BaseException, *, attempt: int = 1, seconds_per_recipient: float = 6.0
) -> ChannelError:
    """The contract error for an exception raised while sending through pywa."""
    if isinstance(exc, ChannelError):
        return exc
    if isinstance(exc, WhatsAppError):
        return _classify_api_error(exc, attempt, seconds_per_recipient)
    if isinstance(exc, httpx.TimeoutException):
        # A connect or pool timeout never sent the request; a read or write timeout may have.
        sent = not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout))
        return TransientError(
            f"timeout talking to the Graph API: {type(exc).__name__}",
            code="timeout",
            maybe_delivered=sent,
        )
    if isinstance(exc, httpx.TransportError):
        return TransientError(
            f"network error talking to the Graph API: {exc or type(exc).__name__}"
        )
    raise TypeError(f"not a send error: {exc!r}") from exc


def _classify_api_error(
    exc: WhatsAppError, attempt: int, seconds_per_recipient: float
) -> ChannelError:
    code = exc.code
    reason = f"WhatsApp error {code}: {exc.message}" + (f" ({exc.details})" if exc.details else "")
    text_code = str(code)
    if code in BACKOFF_BASE_S:
        return RetryAfter(
            backoff(BACKOFF_BASE_S[code], attempt), scope="bot", reason=reason, code=text_code
        )
    if code == 131056:
        return RetryAfter(seconds_per_recipient or 6.0, scope="chat", reason=reason, code=text_code)
    if code == 131047:
        return PermanentError(WINDOW_CLOSED_REASON, code=text_code)
    if code == 131026:
        return RecipientGone(reason, code=text_code)
    if code == 131050:
        return Blocked(reason, code=text_code)
    status = exc.status_code
    if code == 190 or status == 401:
        return PermanentError(f"{reason}: check the bot's access_token", code=text_code)
    if (status is not None and status >= 500) or code in TRANSIENT_CODES or exc.is_transient:
        return TransientError(reason, code=text_code)
    return PermanentError(reason, code=text_code)
