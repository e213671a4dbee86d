"""The shape of ``config.yaml``: pydantic models, strict (unknown keys are errors).

``Settings`` is the top level (store, broker, serve's address, the ``/ops`` token); each
section is a module of its own: ``config.bots`` (with ``config.mail``), ``config.staff`` (admin
bot, operators, permissions), ``config.delivery`` and ``config.campaigns``. Their public names
are importable from here too.

Secrets are ``SecretStr``: printing a settings object shows ``**********``, never the value.
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

# The sections live in modules of their own; the names not used here are re-exported
# (``X as X``) so that ``config.settings`` still offers all of them.
from config.bots import BOT_NAME_PATTERN as BOT_NAME_PATTERN
from config.bots import BotSettings, EmailBotSettings, TelegramBotSettings, WhatsAppBotSettings
from config.bots import WhatsAppTemplateSettings as WhatsAppTemplateSettings
from config.campaigns import CampaignSettings
from config.campaigns import parse_quiet_hours as parse_quiet_hours
from config.delivery import DeliverySettings
from config.fields import StrictModel
from config.mail import ImapSettings as ImapSettings
from config.mail import SmtpSettings as SmtpSettings
from config.staff import CAPABILITIES as CAPABILITIES
from config.staff import AdminBotSettings, OperatorSettings, PermissionsSettings


class Settings(StrictModel):
    """The whole configuration. Every default gives a working embedded setup."""

    database_url: str = "sqlite:///switchboard.db"
    """The store: `sqlite:///switchboard.db` (one machine) or `postgresql://user@host:5432/db`
    (production).
    """
    broker_url: str = "memory://"
    """`memory://`: delivery worker threads inside `serve`; `redis://host:6379/0`: separate
    `./switchboard worker` processes share the sending through Redis.
    """
    timezone: str = "UTC"
    """IANA time zone (`Europe/Moscow`); days in date filters are days of this zone."""
    host: str = "127.0.0.1"
    """The address `serve` listens on."""
    port: Annotated[int, Field(ge=0, lt=65536)] = 8080
    """The port `serve` listens on."""
    bots: list[BotSettings] = Field(default_factory=list)
    """The bots and mailboxes clients write to, one entry each; `kind` chooses the keys (below)."""
    admin_bot: AdminBotSettings | None = None
    """The staff's Telegram bot (below); without it staff work from the command line."""
    operators: list[OperatorSettings] = Field(default_factory=list)
    """Staff created at start when the store does not know them yet (below)."""
    ops_token: SecretStr | None = None
    """Bearer token of the `/ops` dashboard and `/metrics`; unset, both answer 403."""
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    """How the outbox is sent: workers, retries, pacing (below)."""
    permissions: PermissionsSettings = Field(default_factory=PermissionsSettings)
    """What admins and operators may do, by capability (below)."""
    campaigns: CampaignSettings = Field(default_factory=CampaignSettings)
    """Campaigns: quiet hours (below)."""

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme == "sqlite":
            if not (parts.path or parts.netloc) and value not in (
                "sqlite://",
                "sqlite:///:memory:",
            ):
                raise ValueError("sqlite URL needs a file: sqlite:///switchboard.db")
            return value
        if parts.scheme in ("postgresql", "postgres"):
            if not parts.path.strip("/"):
                raise ValueError("postgresql URL needs a database name: postgresql://host/db")
            return value
        raise ValueError(f"must start with sqlite:/// or postgresql://, got {value!r}")

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if value == "memory://" or (parts.scheme in ("redis", "rediss") and parts.hostname):
            return value
        raise ValueError(f"must be memory:// or redis://host:port/db, got {value!r}")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Europe/Moscow)"
            ) from None
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        seen: set[str] = set()
        for bot in self.bots:
            if bot.name in seen:
                raise ValueError(f"bots: duplicate bot name {bot.name!r}")
            seen.add(bot.name)
        ids = [op.telegram_id for op in self.operators]
        if len(ids) != len(set(ids)):
            raise ValueError("operators: duplicate telegram_id")
        return self

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def bot(self, name: str) -> TelegramBotSettings | WhatsAppBotSettings | EmailBotSettings:
        """The bot named ``name``; ``KeyError`` when there is none."""
        for bot in self.bots:
            if bot.name == name:
                return bot
        raise KeyError(name)

    def redacted(self) -> dict[str, object]:
        """The settings as plain data with every secret replaced by ``'***'``, for display."""
        redacted = _redact(self.model_dump(mode="python"))
        assert isinstance(redacted, dict)
        return redacted


def _redact(value: object) -> object:
    if isinstance(value, SecretStr):
        return "***"
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value
