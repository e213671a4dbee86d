"""IMAP's modified UTF-7 for mailbox names (RFC 3501 §5.1.3), both ways.

A folder called ``Заказы 2024`` goes over the wire as ``&BBcEMAQ6BDAENwRL- 2024``: printable
ASCII (0x20-0x7e) stands for itself, ``&`` is written ``&-``, and every other run of characters
is UTF-16BE in base64 (``,`` instead of ``/``, no ``=`` padding) between ``&`` and ``-``.
Python's ``utf-7`` codec is the e-mail variant (``+``, ``/``) and cannot be used as it is.
"""

from __future__ import annotations

import base64
import binascii
import re


class BadFolderName(ValueError):
    """A server sent a mailbox name that is not valid modified UTF-7."""


def _printable(ch: str) -> bool:
    return 0x20 <= ord(ch) <= 0x7E


def encode_folder(name: str) -> str:
    """``name`` as IMAP writes it: ``~peter/mail/台北/日本語`` ->
    ``~peter/mail/&U,BTFw-/&ZeVnLIqe-``."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            utf16 = "".join(pending).encode("utf-16-be", "surrogatepass")
            b64 = base64.b64encode(utf16).decode("ascii").rstrip("=").replace("/", ",")
            out.append(f"&{b64}-")
            pending.clear()

    for ch in name:
        if _printable(ch):
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


_SHIFTED = re.compile(r"&([^-]*)-")


def decode_folder(wire: str) -> str:
    """A mailbox name as the server wrote it, back to text; ``BadFolderName`` when malformed
    (a ``&`` never closed, a character outside printable ASCII, base64 that is not UTF-16)."""
    if any(not _printable(ch) for ch in wire):
        raise BadFolderName(f"not modified UTF-7 (raw non-ASCII): {wire!r}")
    out: list[str] = []
    pos = 0
    for match in _SHIFTED.finditer(wire):
        out.append(wire[pos : match.start()])
        pos = match.end()
        b64 = match.group(1)
        if not b64:
            out.append("&")
            continue
        out.append(_decode_run(b64, wire))
    rest = wire[pos:]
    if "&" in rest:
        raise BadFolderName(f"not modified UTF-7 (an '&' is not closed by '-'): {wire!r}")
    out.append(rest)
    return "".join(out)


def _decode_run(b64: str, wire: str) -> str:
    if len(b64) % 4 == 1 or not re.fullmatch(r"[A-Za-z0-9+,]+", b64):
        raise BadFolderName(f"not modified UTF-7 (bad base64 {b64!r}): {wire!r}")
    padded = b64.replace(",", "/") + "=" * (-len(b64) % 4)
    try:
        utf16 = base64.b64decode(padded, validate=True)
        if len(utf16) % 2:
            raise ValueError("odd length")
        text = utf16.decode("utf-16-be")
    except (binascii.Error, ValueError) as exc:
        raise BadFolderName(f"not modified UTF-7 ({exc}): {wire!r}") from None
    return text
