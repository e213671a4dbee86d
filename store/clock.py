"""Time in the store: naive UTC ``datetime`` values, converted at the edges."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Now, as the naive UTC datetime every timestamp column holds."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def to_utc(value: dt.datetime) -> dt.datetime:
    """An aware datetime as naive UTC; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def from_timestamp(seconds: float) -> dt.datetime:
    """A Unix timestamp (seconds) as naive UTC."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)
