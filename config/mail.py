"""An email bot's two servers: ``ImapSettings`` (where mail is read) and ``SmtpSettings``
(where it is sent from), each port defaulting from its ``security``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import Field, JsonValue, SecretStr, field_validator, model_validator

from config.fields import StrictModel, check_ca_file

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

    _ca_file = field_validator("ca_file")(check_ca_file)
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

    _ca_file = field_validator("ca_file")(check_ca_file)

    @model_validator(mode="before")
    @classmethod
    def _default_port(cls, data: object) -> object:
        return _port_from_security(data, SMTP_PORTS)
