"""aiogram's exceptions -> the channel contract's classified errors (``bots.errors``).

===========================================  ===============================================
aiogram / Bot API answer                     becomes
===========================================  ===============================================
429 with ``retry_after`` (TelegramRetryAfter)  ``RetryAfter(retry_after, scope="bot")``
403 bot was blocked by the user,             ``Blocked``
user is deactivated, bot was kicked
other 403 (can't initiate conversation ...)  ``PermanentError``
400 chat not found, user not found,          ``RecipientGone``
PEER_ID_INVALID
400 group migrated (TelegramMigrateToChat)   ``PermanentError`` naming the new chat id
other 400, 404, 409, 413                     ``PermanentError`` with Telegram's description
401 (TelegramUnauthorizedError)              ``PermanentError``: check the bot token
5xx, network, timeout, undecodable answer    ``TransientError``
===========================================  ===============================================

Telegram does not say whether a 429 came from the bot-wide or the per-chat limit, so the
whole bot pauses for the ``retry_after`` it names (what Telegram asks for).
"""

from __future__ import annotations

from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from bots.errors import (
    Blocked,
    ChannelError,
    PermanentError,
    RecipientGone,
    RetryAfter,
    TransientError,
)

BLOCKED_MARKERS = ("bot was blocked by the user", "user is deactivated", "bot was kicked")
GONE_MARKERS = ("chat not found", "user not found", "peer_id_invalid", "chat_id is empty")


def classify(exc: BaseException) -> ChannelError:
    """The contract error for an exception raised by an aiogram ``Bot`` call."""
    if isinstance(exc, ChannelError):
        return exc
    if isinstance(exc, ClientDecodeError):
        return TransientError(f"Telegram answered something that is not JSON: {exc.message}")
    if not isinstance(exc, TelegramAPIError):
        raise TypeError(f"not a send error: {exc!r}") from exc
    message = exc.message
    lowered = message.lower()
    if isinstance(exc, TelegramRetryAfter):
        return RetryAfter(float(exc.retry_after), scope="bot", reason=message, code="429")
    if isinstance(exc, TelegramEntityTooLarge):
        return PermanentError(f"Telegram refused the file: {message}", code="413")
    if isinstance(exc, TelegramNetworkError):
        # aiogram says "Request timeout error" when the request left and no answer came.
        timed_out = "timeout" in lowered
        return TransientError(
            f"network error talking to Telegram: {message}",
            code="timeout" if timed_out else "network",
            maybe_delivered=timed_out,
        )
    if isinstance(exc, TelegramServerError):
        return TransientError(f"Telegram server error: {message}", code="5xx")
    if isinstance(exc, TelegramForbiddenError):
        if any(marker in lowered for marker in BLOCKED_MARKERS):
            return Blocked(message, code="403")
        return PermanentError(message, code="403")
    if isinstance(exc, TelegramMigrateToChat):
        return PermanentError(
            f"{message}: the group is now chat {exc.migrate_to_chat_id}", code="400"
        )
    if isinstance(exc, TelegramBadRequest):
        if any(marker in lowered for marker in GONE_MARKERS):
            return RecipientGone(message, code="400")
        return PermanentError(message, code="400")
    if isinstance(exc, TelegramUnauthorizedError):
        return PermanentError(f"{message}: check the bot's token", code="401")
    return PermanentError(message, code=type(exc).__name__)
