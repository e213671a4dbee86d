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


# Every time a person reads is in the project's zone (``Settings.zone``) and says which zone it
# is; machine output (--json, exports) is ISO 8601 with the offset. The stored values are
# naive UTC; aware values are converted as they are.


def local(value: dt.datetime | str, zone: dt.tzinfo) -> dt.datetime:
    """A stored naive-UTC time (or its ISO text, as SQLite may hand it back), or an aware one,
    as an aware datetime in ``zone``."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return in_zone(value, zone)


def iso_local(value: dt.datetime | str | None, zone: dt.tzinfo) -> str:
    """ISO 8601 to the second with the offset in ``zone`` (``2026-12-06T08:03:01+03:00``), for
    machines: ``--json``, exports; ``""`` for None."""
    if value is None:
        return ""
    return local(value, zone).isoformat(timespec="seconds")


def zone_label(moment: dt.datetime) -> str:
    """The zone of an aware ``moment`` as people write it: its abbreviation when the zone has
    one (``MSK``, ``CET``, ``UTC``), otherwise its offset (``+05:00``)."""
    name = moment.tzname() or ""
    if name.isalpha():
        return name
    return moment.isoformat()[-6:] if moment.utcoffset() else "UTC"


def shown(
    value: dt.datetime | str | None, zone: dt.tzinfo, *, seconds: bool = False, empty: str = "—"
) -> str:
    """A time for a person, in ``zone`` with its zone: ``2026-12-06 08:03 MSK`` (``seconds``:
    ``08:03:01``); ``empty`` for None. The one format of the admin bot, the CLI and /ops."""
    if value is None or value == "":
        return empty
    moment = local(value, zone)
    # isoformat, not strftime: year 1 stays "0001" (a clamped time, see in_zone).
    text = moment.replace(tzinfo=None).isoformat(" ", "seconds" if seconds else "minutes")
    return f"{text} {zone_label(moment)}"


def file_stamp(value: dt.datetime, zone: dt.tzinfo) -> str:
    """A time in ``zone`` for a file name, to the second: ``20261206-080301``."""
    return local(value, zone).strftime("%Y%m%d-%H%M%S")
