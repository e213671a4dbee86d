"""The pieces every settings model shares: the strict base model and the checks of values
that several sections take (URLs, CA files, Telegram webhook secrets)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr


class StrictModel(BaseModel):
    # A string under a field is its description (docs/configuration.md, `config.reference`).
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def check_http_url(value: str | None) -> str | None:
    """``value`` without its trailing ``/``; ``ValueError`` unless an http(s) URL with a host."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


def check_ca_file(value: str | None) -> str | None:
    """``value`` when it names an existing file (or is None); ``ValueError`` otherwise."""
    if value is not None and not Path(value).is_file():
        raise ValueError(f"no such file: {value!r} (a PEM file of CA certificates)")
    return value


def check_webhook_secret(value: SecretStr | None) -> SecretStr | None:
    """``value`` when Telegram accepts it as a webhook's secret token (or it is None)."""
    if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
        raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
    return value
