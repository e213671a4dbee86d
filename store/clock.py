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


def in_zone(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """A stored naive-UTC time as an aware time in ``zone``, for showing it.

    Never raises: a time so near the ends of ``datetime``'s range (years 1 and 9999) that the
    zone's offset would cross them — a client's platform once said 9999-12-31 23:59:59 — is
    clamped to the first or last second ``zone`` can show, so one odd row cannot break a list.
    """
    aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    try:
        return aware.astimezone(zone)
    except (OverflowError, ValueError):
        edge = dt.datetime.max if value.year > 5000 else dt.datetime.min
        return edge.replace(microsecond=0, tzinfo=zone)
