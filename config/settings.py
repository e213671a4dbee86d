"""The shape of ``config.yaml``: pydantic models, strict (unknown keys are errors).

Secrets are ``SecretStr``: printing a settings object shows ``**********``, never the value.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SecretStr,
    field_validator,
    model_validator,
)

BOT_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"


class StrictModel(BaseModel):
    # A string under a field is its description (docs/configuration.md, `config.reference`).
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _check_http_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


def _check_ca_file(value: str | None) -> str | None:
    if value is not None and not Path(value).is_file():
        raise ValueError(f"no such file: {value!r} (a PEM file of CA certificates)")
    return value


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

    _api_base = field_validator("api_base")(_check_http_url)

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"\d+:[\w-]+", value.get_secret_value()):
            raise ValueError("must look like '123456:ABC-def' (the token BotFather gives)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

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

    _api_base = field_validator("api_base")(_check_http_url)

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


FROM_SECURITY: dict[str, JsonValue] = {"default_text": "from `security`"}  # a port's default
IMAP_PORTS = {"tls": 993, "starttls": 143, "none": 143}
SMTP_PORTS = {"tls": 465, "starttls": 587, "none": 25}


def _port_from_security(data: object, ports: dict[str, int]) -> object:
    """Fill a missing ``port`` from ``security`` (``ports``), as mail clients do."""
    if isinstance(data, dict) and data.get("port") is None:
        security = data.get("security", "tls")
        if isinstance(security, str) and security in ports:
            return {**data, "port": ports[security]}
    return data


def _check_initial_sync(value: str) -> str:
    if value in ("new", "all"):
        return value
    kind, _, day = value.partition(":")
    if kind == "since":
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            pass
        else:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
                return value
    raise ValueError(f"must be new, all or since:YYYY-MM-DD, got {value!r}")


class ImapSettings(StrictModel):
    """Where an email bot reads its mail.

    ``use_idle``: wait for IMAP IDLE pushes when the server offers IDLE (re-issued every
    ``idle_renew_s``, below the 30 min servers allow), else poll every ``poll_interval_s``.
    A lost connection is retried after ``reconnect_delay_s``, doubling up to ``reconnect_max_s``.
    ``timeout_s`` bounds each IMAP command; mails above ``max_message_bytes`` are stored from
    their first ``max_message_bytes`` (headers, text, the attachments that fit).
    ``ca_file``: a PEM file of the certificate authority a server with a private CA uses
    (default: the system's trust store); the certificate and host name are always checked.
    ``port`` defaults from ``security``: 993 for ``tls``, 143 for ``starttls`` and ``none``.
    ``initial_sync``: what the first connection to a folder imports: ``new`` (only mail arriving
    from then on), ``all`` (the whole folder) or ``since:YYYY-MM-DD`` (mail the server received
    from that day on).
    """

    host: str
    """The IMAP server."""
    port: Annotated[int, Field(gt=0, lt=65536, json_schema_extra=FROM_SECURITY)]
    """Default from `security`: 993 for `tls`, 143 for `starttls` and `none`."""
    security: Literal["tls", "starttls", "none"] = "tls"
    """`tls` (implicit TLS), `starttls`, or `none` (plain text: local servers only)."""
    user: str
    """Login name."""
    password: SecretStr
    """Password (an app password at Gmail and the like); `"${NAME}"` takes it from the environment.
    """
    folder: str = "INBOX"
    """The folder to read, written as people see it (`Заказы 2024`)."""
    initial_sync: str = "new"
    """What the first connection to the folder imports: `new` (only mail arriving from then on),
    `all`, or `since:YYYY-MM-DD`.
    """
    poll_interval_s: Annotated[float, Field(gt=0)] = 60.0
    """Time between checks when the server has no IDLE or `use_idle` is off."""
    use_idle: bool = True
    """Wait for the server's IDLE pushes (new mail is read at once) when it offers IDLE."""
    idle_renew_s: Annotated[float, Field(gt=0, le=1740)] = 1500.0
    """IDLE is issued again this often (servers end it after 30 minutes)."""
    reconnect_delay_s: Annotated[float, Field(gt=0)] = 1.0
    """First wait after a lost connection, doubling up to `reconnect_max_s`."""
    reconnect_max_s: Annotated[float, Field(gt=0)] = 300.0
    """Longest wait between reconnection attempts."""
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    """Bound on connecting and on each IMAP command."""
    max_message_bytes: Annotated[int, Field(gt=1024)] = 25 * 1024 * 1024
    """A larger mail is stored from its first this many bytes (headers, text, the attachments that
    fit).
    """
    ca_file: str | None = None
    """PEM file of a private certificate authority; unset, the system's trust store (certificate
    and host name are always checked).
    """

    _ca_file = field_validator("ca_file")(_check_ca_file)
    _initial_sync = field_validator("initial_sync")(_check_initial_sync)

    @model_validator(mode="before")
    @classmethod
    def _default_port(cls, data: object) -> object:
        return _port_from_security(data, IMAP_PORTS)

    @property
    def initial_sync_since(self) -> dt.date | None:
        """The day of ``initial_sync: since:YYYY-MM-DD``; None for ``new`` and ``all``."""
        kind, _, day = self.initial_sync.partition(":")
        return dt.date.fromisoformat(day) if kind == "since" else None


class SmtpSettings(StrictModel):
    """Where an email bot sends from. ``from_address`` may carry a name: ``Shop <a@b.c>``.
    ``timeout_s`` bounds connecting and each SMTP command; ``ca_file`` as for IMAP. ``port``
    defaults from ``security``: 465 for ``tls``, 587 for ``starttls``, 25 for ``none``."""

    host: str
    """The SMTP server."""
    port: Annotated[int, Field(gt=0, lt=65536, json_schema_extra=FROM_SECURITY)]
    """Default from `security`: 465 for `tls`, 587 for `starttls`, 25 for `none`."""
    security: Literal["tls", "starttls", "none"] = "tls"
    """`tls` (implicit TLS), `starttls`, or `none` (plain text: local servers only)."""
    user: str | None = None
    """Login name; unset, no login."""
    password: SecretStr | None = None
    """Password; `"${NAME}"` takes it from the environment."""
    from_address: str
    """The `From` of every mail, with a name if wanted: `Corner Shop <shop@example.com>`."""
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    """Bound on connecting and on each SMTP command."""
    ca_file: str | None = None
    """PEM file of a private certificate authority, as for IMAP."""

    _ca_file = field_validator("ca_file")(_check_ca_file)

    @model_validator(mode="before")
    @classmethod
    def _default_port(cls, data: object) -> object:
        return _port_from_security(data, SMTP_PORTS)


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

    _api_base = field_validator("api_base", "webhook_url")(_check_http_url)

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

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram accepts 1-256 characters A-Z, a-z, 0-9, _ and - as a webhook secret.
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value


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


class DeliverySettings(StrictModel):
    """How the outbox is sent: worker pool, retries, sweep and pacing (times in seconds).

    ``catch_up_s``: how much sending time a bot's limiter may make up after its own senders
    stalled, as a short burst (default 0.5 s: 15 messages at 30/s; 0 spaces messages strictly).
    The window guard still holds every burst to the platform's per-second limit, and a
    platform's pause is never made up (see ``workers.pacing``).
    ``window_margin_s`` (default 0.005 s): added to every window after the platform's answer
    (the guarantee needs none; it absorbs clock granularity, and each ms of it costs throughput).
    ``inflight_timeout_s`` (8 s): how long a send with no answer (its worker killed) still
    counts in its windows. Keep it at most ``lease_s``: a dead worker's rows are sent again
    once its lease runs out, and they would wait for its unanswered sends until then.
    The learned rate (AIMD) of each bot: a bot-wide 429 multiplies it by ``rate_cut_factor``
    (0.85), never below ``rate_floor_fraction`` (0.1) of the configured rate; every
    ``rate_raise_every_s`` (10 s) without a 429 adds ``rate_raise_fraction`` (0.05) of it back.
    ``stale_after_s`` must exceed ``max_wait_s``: a send waiting for its slot is not stuck.
    ``max_wait_s``: how far ahead a send may reserve its rate-limit slot (default 2 s; further
    off, the row is deferred); ``bulk_max_wait_s``: how far ahead a bulk-lane send (broadcast,
    resend-failed) may reserve (default 0.5 s), so an operator's reply is never more than that
    behind a broadcast at the limit (docs/operations.md, lanes). ``interactive_threads``: sender
    threads per process for the interactive lane alone (default 2), besides ``worker_threads``
    for the bulk lane, so a reply never waits for a broadcast's sender to be free.
    ``lease_s``: a sending process renews its lease every ``lease_s / 4``; the rows it claimed
    go to other workers once it has not for ``lease_s`` (default 8 s: a SIGKILLed worker's rows
    are sent again about 10 s after its death). ``stale_after_s`` (default 120 s) remains the
    last resort for rows whose claimer had no lease and for ids the broker lost.
    """

    namespace: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] = "switchboard"
    """Prefix of every Redis key and queue, so several installations can share one Redis."""
    worker_processes: Annotated[int, Field(ge=1, le=64)] = 1
    """Processes `./switchboard worker` starts."""
    worker_threads: Annotated[int, Field(ge=1, le=256)] = 8
    """Sending threads per worker process (and inside `serve` with `memory://`) for the bulk lane
    (broadcasts, resend-failed); `interactive_threads` more send operators' messages."""
    max_attempts: Annotated[int, Field(ge=1)] = 5
    """Attempts before a message fails for good after temporary errors (a permanent error fails it
    at once).
    """
    backoff_base_s: Annotated[float, Field(gt=0)] = 2.0
    """First retry delay after a temporary error, doubling with each attempt."""
    backoff_max_s: Annotated[float, Field(gt=0)] = 600.0
    """Longest retry delay."""
    stale_after_s: Annotated[float, Field(gt=0)] = 120.0
    """A row queued or sending this long is handed to the broker again: the last resort for ids the
    broker lost; must exceed `max_wait_s`.
    """
    dispatch_interval_s: Annotated[float, Field(gt=0, le=5)] = 0.2
    """How often the dispatcher hands due outbox rows to the broker."""
    max_wait_s: Annotated[float, Field(ge=0)] = 2.0
    """How far ahead a send may reserve its rate-limit slot; further off, the row is deferred."""
    bulk_max_wait_s: Annotated[float, Field(ge=0)] = 0.5
    """The same for bulk sends (broadcasts, resend-failed), so a reply is never more than this
    behind a broadcast at the limit.
    """
    interactive_threads: Annotated[int, Field(ge=1, le=64)] = 2
    """Sender threads per process for the interactive lane alone (operators' messages), besides
    `worker_threads`, so a reply never waits for a broadcast's sender to be free.
    """
    lease_s: Annotated[float, Field(ge=2, le=600)] = 8.0
    """A sending process renews its lease every `lease_s / 4`; its claimed rows go to other workers
    once it has not for `lease_s`.
    """
    rate_headroom: Annotated[float, Field(gt=0, le=1)] = 1.0
    """Fraction of every platform limit used (1: the whole limit)."""
    catch_up_s: Annotated[float, Field(ge=0, le=1)] = 0.5
    """Sending time a bot's limiter may make up in a burst after its senders stalled (0: messages
    strictly spaced).
    """
    window_margin_s: Annotated[float, Field(ge=0, le=1)] = 0.005
    """Added to every rate window after the platform's answer."""
    inflight_timeout_s: Annotated[float, Field(gt=0, le=600)] = 8.0
    """How long a send with no answer (its worker killed) still counts in its rate windows; keep it
    at most `lease_s`.
    """
    rate_cut_factor: Annotated[float, Field(gt=0, lt=1)] = 0.85
    """A bot-wide 429 multiplies the bot's learned rate by this."""
    rate_floor_fraction: Annotated[float, Field(gt=0, le=1)] = 0.1
    """The learned rate never falls below this fraction of the configured rate."""
    rate_raise_fraction: Annotated[float, Field(gt=0, le=1)] = 0.05
    """Fraction of the configured rate given back every `rate_raise_every_s` without a 429."""
    rate_raise_every_s: Annotated[float, Field(gt=0)] = 10.0
    """How often the learned rate is raised again."""

    @model_validator(mode="after")
    def _sweep_after_waits(self) -> DeliverySettings:
        if self.stale_after_s <= self.max_wait_s:
            raise ValueError(
                f"stale_after_s ({self.stale_after_s:g}) must exceed max_wait_s "
                f"({self.max_wait_s:g}): a send waiting for its slot would be swept and sent twice"
            )
        return self


_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_quiet_hours(text: str) -> tuple[dt.time, dt.time]:
    """``22:00-09:00`` -> (start, end); ``ValueError`` naming what is wrong."""
    parts = text.replace(" ", "").split("-")
    if len(parts) != 2 or not all(_HHMM.match(p) for p in parts):
        raise ValueError(f"quiet hours {text!r}: expected HH:MM-HH:MM, e.g. 22:00-09:00")
    start, end = (dt.time.fromisoformat(p.zfill(5)) for p in parts)
    if start == end:
        raise ValueError(f"quiet hours {text!r}: start and end are the same")
    return start, end


class CampaignSettings(StrictModel):
    """Campaigns (`switchboard campaigns`): when they may send."""

    quiet_hours: str | None = None
    """`22:00-09:00`: no campaign sends between these times of the project's `timezone` (may wrap
    past midnight); a sending campaign pauses and resumes by itself. Unset: campaigns send at any
    hour.
    """

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str | None) -> str | None:
        if value is not None:
            parse_quiet_hours(value)
        return value


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
