"""Who is using the Mini App: Telegram's signed initData, exchanged for a short session token.

Telegram hands the app ``Telegram.WebApp.initData``, a query string signed with
HMAC-SHA256 under the key HMAC("WebAppData", admin bot token) (aiogram's
``check_webapp_signature`` computes it and compares in constant time). ``verify_init_data``
accepts it only when the signature holds, ``auth_date`` is at most ``max_age_s`` old (and not
from the future beyond a small clock skew) and it names a user.

``POST /app/api/v1/session`` (``commands.app.api``) trades valid initData of a known operator
for a session token ``v1.<operator id>.<expiry unix s>.<hex HMAC>``; the HMAC key is derived
from the admin bot's token, so rotating the token ends every session, and a token can be
neither forged nor extended. The token names the operator only: whether they are still an
active operator, and what they may do, is read from the store at every call.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from aiogram.utils.web_app import WebAppInitData, safe_parse_webapp_init_data

SESSION_PREFIX = "v1"
CLOCK_SKEW_S = 60  # a phone's clock a minute ahead of ours is not an attack


class AuthError(Exception):
    """The request does not authenticate; the message is the one line the client gets (401)."""


def verify_init_data(
    bot_token: str, init_data: str, *, max_age_s: int, now: float | None = None
) -> WebAppInitData:
    """The parsed initData when Telegram signed it with ``bot_token`` and it is fresh;
    ``AuthError`` otherwise."""
    if not init_data or len(init_data) > 8192:
        raise AuthError("initData is missing or too long")
    try:
        parsed = safe_parse_webapp_init_data(bot_token, init_data)
    except (ValueError, TypeError):
        # TypeError: compare_digest refuses a non-ASCII hash; either way it is not signed.
        raise AuthError("initData is not signed by this bot") from None
    moment = time.time() if now is None else now
    age = moment - parsed.auth_date.timestamp()
    if age > max_age_s:
        raise AuthError(f"initData is stale (older than {max_age_s} s): reopen the app")
    if age < -CLOCK_SKEW_S:
        raise AuthError("initData is dated in the future")
    if parsed.user is None:
        raise AuthError("initData names no user")
    return parsed


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """Issues and checks session tokens with a key derived from the admin bot's token."""

    key: bytes
    lifetime_s: int

    @classmethod
    def from_bot_token(cls, bot_token: str, lifetime_s: int) -> SessionKeys:
        key = hmac.new(bot_token.encode(), b"switchboard app session", hashlib.sha256).digest()
        return cls(key, lifetime_s)

    def _mac(self, payload: str) -> str:
        return hmac.new(self.key, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, operator_id: int, now: float | None = None) -> tuple[str, int]:
        """A token for ``operator_id`` and its expiry (unix seconds)."""
        expires = int(time.time() if now is None else now) + self.lifetime_s
        payload = f"{SESSION_PREFIX}.{operator_id}.{expires}"
        return f"{payload}.{self._mac(payload)}", expires

    def operator_id(self, token: str, now: float | None = None) -> int:
        """The operator id a valid, unexpired token names; ``AuthError`` otherwise."""
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != SESSION_PREFIX:
            raise AuthError("not a session token: POST initData to /app/api/v1/session")
        payload, mac = ".".join(parts[:3]), parts[3]
        if not hmac.compare_digest(self._mac(payload).encode(), mac.encode()):
            raise AuthError("session token is not valid")
        operator, expires = parts[1], parts[2]
        if not (operator.isdigit() and expires.isdigit()):
            raise AuthError("session token is not valid")
        if int(expires) <= (time.time() if now is None else now):
            raise AuthError("session expired: renew it with initData")
        return int(operator)
