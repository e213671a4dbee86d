"""The bots clients write to, one model per ``kind``: Telegram bots, WhatsApp Cloud API
numbers and email mailboxes; ``BotSettings`` is their union, told apart by ``kind``."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import phonenumbers
from pydantic import Field, SecretStr, field_validator, model_validator

from config.fields import StrictModel, check_http_url, check_webhook_secret
from config.mail import ImapSettings, SmtpSettings

BOT_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"


class _BotBase(StrictModel):
    name: Annotated[str, Field(pattern=BOT_NAME_PATTERN)]
    """Unique bot name (letters, digits, `_.-`; up to 64), used in webhook URLs, commands and
    filters (`channel:NAME`).
    """
    enabled: bool = True
    """A disabled bot keeps its clients and dialogs, neither receives nor sends, and needs no
    credentials.
    """


class TelegramBotSettings(_BotBase):
    """A Telegram bot. ``api_base`` points at a local Bot API server or the emulator.

    ``mode``: ``webhook`` (Telegram posts to ``/webhooks/telegram/<name>``, registered with
    ``./switchboard telegram set-webhook``) or ``polling`` (``getUpdates`` every
    ``poll_timeout_s`` seconds at most, for machines without a public address).
    ``webhook_secret``: the ``X-Telegram-Bot-Api-Secret-Token`` (1-256 of ``A-Za-z0-9_-``);
    without it set-webhook generates one and keeps it in the store. ``fetch_avatars``: look
    up a new client's profile photo after their first message. ``business``: the bot serves
    Telegram Business accounts connected to it (the owner's private chats become dialogs;
    replies go out through the connection).

    ``messages_per_second`` (default 30), ``chat_messages_per_second`` (1) and
    ``group_messages_per_minute`` (20): Telegram's broadcast limits the sender keeps to.
    ``paid_broadcast`` (default off): bulk sends (broadcast and resend-failed jobs) go out with
    ``allow_paid_broadcast`` at up to ``paid_messages_per_second`` (default 1000, Telegram's
    ceiling); Telegram charges the bot's Stars balance for them (0.1 Star a message when this
    was written: docs/telegram.md). Replies and other single messages stay free and paced by
    ``messages_per_second``.
    """

    kind: Literal["telegram"]
    """Chooses the keys of this table."""
    token: SecretStr | None = None
    """The bot token from BotFather (`123456:ABC-def`); required when enabled."""
    mode: Literal["webhook", "polling"] = "webhook"
    """`webhook`: Telegram posts to `/webhooks/telegram/<name>` (register it with
    `./switchboard telegram set-webhook`); `polling`: `getUpdates`, for machines without a public
    address.
    """
    webhook_secret: SecretStr | None = None
    """The `X-Telegram-Bot-Api-Secret-Token` (1-256 of `A-Za-z0-9_-`); unset, set-webhook generates
    one and keeps it in the store.
    """
    api_base: str | None = None
    """Another Bot API server (a local one, or the emulator)."""
    poll_timeout_s: Annotated[int, Field(ge=0, le=50)] = 25
    """Long-polling timeout of `getUpdates` in `polling` mode."""
    fetch_avatars: bool = True
    """Look up a new client's profile photo after their first message."""
    business: bool = False
    """Serve Telegram Business accounts connected to the bot: the owner's private chats become
    dialogs; replies go out through the connection.
    """
    messages_per_second: Annotated[float, Field(gt=0)] = 30.0
    """Telegram's overall limit the sender keeps to."""
    chat_messages_per_second: Annotated[float, Field(gt=0)] = 1.0
    """Limit per private chat."""
    group_messages_per_minute: Annotated[float, Field(gt=0)] = 20.0
    """Limit per group chat."""
    paid_broadcast: bool = False
    """Bulk sends go out with `allow_paid_broadcast` at up to `paid_messages_per_second`; Telegram
    charges Stars above 30 per second (docs/telegram.md).
    """
    paid_messages_per_second: Annotated[float, Field(gt=0, le=1000)] = 1000.0
    """Rate of paid bulk sends (Telegram's ceiling is 1000)."""

    _api_base = field_validator("api_base")(check_http_url)

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"\d+:[\w-]+", value.get_secret_value()):
            raise ValueError("must look like '123456:ABC-def' (the token BotFather gives)")
        return value

    _webhook_secret = field_validator("webhook_secret")(check_webhook_secret)

    @model_validator(mode="after")
    def _credentials(self) -> TelegramBotSettings:
        if self.enabled and self.token is None:
            raise ValueError("token: required for an enabled telegram bot")
        return self


class WhatsAppTemplateSettings(StrictModel):
    """An approved message template: ``name``, ``language`` code.

    ``text_parameter``: the template's body has one parameter ``{{1}}`` that receives the
    operator's text (otherwise the template is sent as it is).
    """

    name: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,512}$")] = "hello_world"
    """The template's name as Meta approved it."""
    # Meta's language codes: "ru", "en_US", "zh_CN" (a typo would fail every send instead).
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}(_[A-Z]{2,4})?$")] = "en_US"
    """Its language code (`ru`, `en_US`)."""
    text_parameter: bool = False
    """The template's body has one parameter `{{1}}` that receives the operator's text; off, it is
    sent as it is.
    """


class WhatsAppBotSettings(_BotBase):
    """A WhatsApp Cloud API phone number. ``api_base`` replaces the Graph API's address.

    ``first_contact_template`` is what write-to-WhatsApp sends when the client's 24-hour
    window is closed (default: Meta's sample ``hello_world``, en_US, every account has it).
    ``default_region`` (ISO 3166 alpha-2, e.g. ``RU``): the country of phone numbers an operator
    writes without ``+`` (``8 916 123 45 67``); unset, such digits are read as country code and
    number, as WhatsApp writes them.
    """

    kind: Literal["whatsapp"]
    """Chooses the keys of this table."""
    phone_number_id: str | None = None
    """The Cloud API phone number id; required when enabled."""
    access_token: SecretStr | None = None
    """Access token for the Graph API; required when enabled."""
    app_secret: SecretStr | None = None
    """The Meta app's secret: webhooks are accepted only with its `X-Hub-Signature-256`; required
    when enabled.
    """
    verify_token: SecretStr | None = None
    """The token Meta echoes when the webhook is registered; required when enabled."""
    api_base: str | None = None
    """Another Graph API address (the emulator)."""
    api_version: str = "v21.0"
    """The Graph API version in request paths."""
    messages_per_second: Annotated[float, Field(gt=0)] = 80.0
    """The number's throughput limit at Meta."""
    seconds_per_recipient: Annotated[float, Field(ge=0)] = 6.0
    """Least time between two messages to the same person."""
    first_contact_template: WhatsAppTemplateSettings = WhatsAppTemplateSettings()
    """What write-to-WhatsApp sends when the client's 24-hour window is closed (below); Meta's
    sample `hello_world` exists on every account.
    """
    default_region: str | None = None
    """Country (ISO 3166 alpha-2, `RU`) of numbers operators write without `+`; unset, such digits
    are read as country code and number.
    """

    _api_base = field_validator("api_base")(check_http_url)

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"must be a country code such as RU, DE or US, got {value!r}")
        return None if value is None else value.upper()

    @model_validator(mode="after")
    def _credentials(self) -> WhatsAppBotSettings:
        if self.enabled:
            for key in ("phone_number_id", "access_token", "app_secret", "verify_token"):
                if getattr(self, key) is None:
                    raise ValueError(f"{key}: required for an enabled whatsapp bot")
        return self


class EmailBotSettings(_BotBase):
    """One mailbox: IMAP in, SMTP out."""

    kind: Literal["email"]
    """Chooses the keys of this table."""
    imap: ImapSettings | None = None
    """Where the mail is read (below); required when enabled."""
    smtp: SmtpSettings | None = None
    """Where the mail is sent from (below); required when enabled."""
    messages_per_second: Annotated[float, Field(gt=0)] = 5.0
    """Most mails sent per second."""

    @model_validator(mode="after")
    def _credentials(self) -> EmailBotSettings:
        if self.enabled:
            for key in ("imap", "smtp"):
                if getattr(self, key) is None:
                    raise ValueError(f"{key}: required for an enabled email bot")
        return self


BotSettings = Annotated[
    TelegramBotSettings | WhatsAppBotSettings | EmailBotSettings,
    Field(discriminator="kind"),
]
