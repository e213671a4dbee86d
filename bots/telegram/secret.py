"""The webhook secret set-webhook generates when the configuration gives none (in the store)."""

from __future__ import annotations

import secrets

from store.project_settings import get_setting, put_setting


def secret_key(bot_name: str) -> str:
    return f"telegram.webhook_secret.{bot_name}"


def stored_secret(bot_name: str) -> str | None:
    """The generated secret of ``bot_name``, None when set-webhook has not made one."""
    value = get_setting(secret_key(bot_name))
    return value if isinstance(value, str) and value else None


def ensure_secret(bot_name: str) -> str:
    """The stored secret of ``bot_name``, generated (43 URL-safe characters) and stored if new."""
    existing = stored_secret(bot_name)
    if existing is not None:
        return existing
    fresh = secrets.token_urlsafe(32)
    put_setting(secret_key(bot_name), fresh)
    return fresh
