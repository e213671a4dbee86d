"""Meta's webhook signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``.

The key is the app secret. Used by the webhook (verify) and the emulator (sign).
"""

from __future__ import annotations

import hashlib
import hmac

from bots.webhook import secrets_match

SIGNATURE_HEADER = "X-Hub-Signature-256"


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta sends for ``body``: ``sha256=`` and the lowercase hex digest."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    """True when ``header`` is the signature of ``body``; compared in constant time."""
    if header is None:
        return False
    return secrets_match(header.strip().lower(), sign(body, app_secret))
