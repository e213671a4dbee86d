"""Keyset cursors of the client list: where the next page starts, as an opaque URL-safe text.

A cursor names the last client of a page by its place in the list order (``pinned``, the
activity or creation time, ``id``) and the sort it belongs to. The next page is the clients
strictly after that place, so clients that move to the top between pages (a new message)
neither repeat nor push others past the page boundary.

Layout (then base64url without padding, 31 characters): version (1 byte), sort (1), pinned
(1), the moment in microseconds since 0001-01-01 (8, signed), client id (8), and a 4-byte
BLAKE2b check of those 19 bytes. The check catches garbled or truncated text; a cursor
crafted by hand can only place the page somewhere in the caller's own list (the filter and
the viewer's scope are applied to every page), so it reveals nothing.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import struct
from dataclasses import dataclass

from store.filters import FilterError

VERSION = 1
SORTS = ("activity", "created")  # the filter's ``sort:`` values, by their code
_BODY = struct.Struct(">BBBqq")
_CHECK_BYTES = 4
_EPOCH = dt.datetime(1, 1, 1)
_LENGTH = len(base64.urlsafe_b64encode(bytes(_BODY.size + _CHECK_BYTES)).rstrip(b"="))


class CursorError(FilterError):
    """A cursor that is not one this list gave out (garbled, truncated, another sort)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """The place of a page's last client: ``moment`` is naive UTC (the column's value)."""

    sort: str
    pinned: bool
    moment: dt.datetime
    client_id: int

    def encode(self) -> str:
        micros = (self.moment - _EPOCH) // dt.timedelta(microseconds=1)
        body = _BODY.pack(VERSION, SORTS.index(self.sort), self.pinned, micros, self.client_id)
        return base64.urlsafe_b64encode(body + _check(body)).decode("ascii").rstrip("=")


def _check(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=_CHECK_BYTES, person=b"sb-cursor").digest()


def decode_cursor(text: str, sort: str) -> Cursor:
    """``text`` back to a ``Cursor`` of the list sorted by ``sort``; a ``CursorError`` (one
    line) for anything this module did not write or for a cursor of the other sort."""
    bad = CursorError(f"cursor {text[:40]!r} is not a cursor of this list (garbled or expired)")
    if len(text) != _LENGTH or not text.isascii():
        raise bad
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    body, check = raw[: _BODY.size], raw[_BODY.size :]
    canonical = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") == text
    if len(raw) != _BODY.size + _CHECK_BYTES or not canonical or _check(body) != check:
        raise bad
    version, sort_code, pinned, micros, client_id = _BODY.unpack(body)
    if version != VERSION or sort_code >= len(SORTS) or pinned > 1 or client_id < 1:
        raise bad
    if SORTS[sort_code] != sort:
        raise CursorError(f"cursor is of a list sorted by {SORTS[sort_code]}, not by {sort}")
    try:
        moment = _EPOCH + dt.timedelta(microseconds=micros)
    except OverflowError:
        raise bad from None
    return Cursor(sort=sort, pinned=bool(pinned), moment=moment, client_id=client_id)
