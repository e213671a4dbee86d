"""Who may talk to the admin bot: the webhook secret, and strangers refused once.

Both live in ``ProjectSetting`` rows written with ``INSERT ... ON CONFLICT DO NOTHING``, so
every ``serve`` process agrees on the secret and a stranger is refused once in all of them.
"""

from __future__ import annotations

import secrets

from store.models import Operator, ProjectSetting

SECRET_KEY = "admin_bot:webhook_secret"  # noqa: S105 (a store key, not a secret)
REFUSED_PREFIX = "admin_bot:refused:"
REFUSAL = (
    "Sorry, this bot is for the staff of this business only. If you work here, ask an admin "
    "to add your Telegram id {id} with /operators add."
)


def stored_secret(configured: str | None) -> str:
    """The webhook secret: the configured one, else one generated once (43 URL-safe
    characters) and kept in the store."""
    if configured:
        return configured
    ProjectSetting.insert(
        key=SECRET_KEY, value=secrets.token_urlsafe(32)
    ).on_conflict_ignore().execute()
    return str(ProjectSetting.get(ProjectSetting.key == SECRET_KEY).value)


def refuse_once(telegram_id: int) -> bool:
    """True the first time a stranger writes (they get the refusal), False afterwards."""
    inserted = (
        ProjectSetting.insert(key=f"{REFUSED_PREFIX}{telegram_id}", value=True)
        .on_conflict_ignore()
        .as_rowcount()
        .execute()
    )
    return bool(inserted)


def admin_ids() -> list[int]:
    """Telegram ids of the active admins."""
    return [
        op.telegram_id
        for op in Operator.select(Operator.telegram_id).where(
            (Operator.role == "admin") & (Operator.active == True)  # noqa: E712
        )
    ]
