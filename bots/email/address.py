"""Checking an email address typed by an operator (F2): one clear reason when it is not one."""

from __future__ import annotations

import re

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class InvalidAddress(ValueError):
    """``str()`` is one line: the address and what is wrong with it."""


def normalise_address(text: str) -> str:
    """``text`` as a lowercased ``local@domain`` address, or ``InvalidAddress`` saying why.

    Accepts the everyday shape (dot-atom local part, a domain with at least one dot;
    international domains are checked in their IDNA form) and nothing with a display name.
    """
    address = text.strip()
    shown = text.strip() or repr(text)
    if "@" not in address:
        raise InvalidAddress(f"{shown!s} is not an email address: it has no @")
    local, _, domain = address.rpartition("@")
    if not local or not _LOCAL.match(local):
        raise InvalidAddress(f"{shown} is not an email address: bad part before the @")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidAddress(f"{shown} is not an email address: bad domain {domain!r}") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidAddress(
            f"{shown} is not an email address: the domain must look like example.com"
        )
    if len(address) > 254:
        raise InvalidAddress(f"{shown[:40]}... is not an email address: longer than 254")
    return f"{local}@{domain}".lower()
