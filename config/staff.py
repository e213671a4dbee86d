"""The staff's side: the admin bot (and the Mini App it opens), the operators created at
start, and what each role may do (``CAPABILITIES``, ``PermissionsSettings``)."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from config.fields import StrictModel, check_http_url, check_webhook_secret


class AdminBotSettings(StrictModel):
    """The staff's Telegram bot.

    ``mode``: Telegram pushes updates to ``POST /webhooks/admin`` (``webhook``; registered
    with Telegram at start when ``webhook_url``, the public address of that route, is set) or
    the bot asks for them (``polling``). ``webhook_secret``: the secret Telegram must present;
    when unset one is generated once and kept in the store. ``files_dir``: where photos and
    documents operators send to clients are kept for delivery. Notifications of new client
    messages go out every ``notify_interval_s``; an operator with more than
    ``notify_max_single`` new messages in one round gets one digest instead. Job progress
    messages are edited at most every ``progress_interval_s``.
    """

    token: SecretStr
    """The admin bot's token from BotFather."""
    mode: Literal["webhook", "polling"] = "webhook"
    """`webhook`: Telegram posts updates to `POST /webhooks/admin`; `polling`: the bot asks for
    them (one `serve` process only).
    """
    webhook_secret: SecretStr | None = None
    """The secret Telegram must present (1-256 of `A-Za-z0-9_-`); unset, one is generated once and
    kept in the store.
    """
    webhook_url: str | None = None
    """The public address of `/webhooks/admin`, registered with Telegram at start."""
    api_base: str | None = None
    """Another Bot API server (a local one, or the emulator)."""
    files_dir: str = "files"
    """Where photos and documents operators send to clients are kept until delivered."""
    notify_interval_s: Annotated[float, Field(gt=0)] = 3.0
    """How often operators are told about new client messages."""
    notify_max_single: Annotated[int, Field(ge=1, le=50)] = 3
    """More new messages than this for one operator in one round make one digest."""
    progress_interval_s: Annotated[float, Field(gt=0)] = 5.0
    """Job progress messages are edited at most this often."""
    public_url: str | None = None
    """The service's public HTTPS address (`https://shop.example`): the bot opens the Mini App
    at `<public_url>/app/` from its menu button, `/app` and client cards (docs/app.md).
    """
    app_init_data_max_age_s: Annotated[int, Field(ge=10, le=86400)] = 3600
    """The Mini App refuses Telegram's initData older than this (its `auth_date`)."""
    app_session_s: Annotated[int, Field(ge=30, le=86400)] = 900
    """How long a Mini App session token lasts; the app renews it with fresh initData."""

    _api_base = field_validator("api_base", "webhook_url")(check_http_url)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        # Telegram opens Web Apps only over HTTPS.
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"must be an https:// URL without query or fragment, got {value!r}")
        return value.rstrip("/")

    _webhook_secret = field_validator("webhook_secret")(check_webhook_secret)


class OperatorSettings(StrictModel):
    """An operator created at start when the store does not know them yet."""

    telegram_id: Annotated[int, Field(gt=0)]
    """The operator's Telegram user id."""
    role: Literal["admin", "operator"] = "operator"
    """`admin` (every client, staff, settings) or `operator` (their own clients and the free ones).
    """
    name: str
    """Shown to staff and in assignments."""
    email: str | None = None
    """Contact address."""


CAPABILITIES: tuple[str, ...] = (
    "view_others",
    "reply",
    "bulk",
    "delete",
    "broadcast",
    "export",
    "import",
    "purge",
    "manage_operators",
)
"""What a member of staff may do, by name (docs/commands.md, Permissions, says what each allows)."""


def _check_capabilities(value: list[str]) -> list[str]:
    unknown = [name for name in value if name not in CAPABILITIES]
    if unknown:
        raise ValueError(f"unknown capability {unknown[0]!r} (known: {', '.join(CAPABILITIES)})")
    return list(dict.fromkeys(value))


class PermissionsSettings(StrictModel):
    """What each role may do; an admin changes one operator's with `/operators grant|revoke`."""

    admin: list[str] = Field(default_factory=lambda: list(CAPABILITIES))
    """Capabilities of admins (default: all of them)."""
    operator: list[str] = Field(default_factory=lambda: ["view_others", "reply", "bulk"])
    """Capabilities of operators (default: `view_others`, `reply`, `bulk`): they see other
    operators' clients read-only and act on their own and free ones; `delete`, `broadcast`,
    `export`, `import`, `purge` and `manage_operators` stay with admins until granted.
    """

    @field_validator("admin", "operator")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        return _check_capabilities(value)

    def of_role(self, role: str) -> frozenset[str]:
        """The role's capabilities (an unknown role has none)."""
        if role == "admin":
            return frozenset(self.admin)
        if role == "operator":
            return frozenset(self.operator)
        return frozenset()
