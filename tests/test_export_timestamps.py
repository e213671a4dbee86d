"""The export's cached time-zone conversion gives exactly what the plain conversion gives."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import given
from hypothesis import strategies as st

from store.clock import iso_local
from store.export import TimestampFormatter

# Moscow changed its offset in 2011 and 2014; St John's switches at xx:30 UTC; Lord Howe
# moves by half an hour; Kathmandu is +05:45.
ZONES = ("Europe/Moscow", "America/St_Johns", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC")
moments = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2040, 1, 1))


@given(zone=st.sampled_from(ZONES), values=st.lists(moments, min_size=1, max_size=50))
def test_cached_offsets_match_the_exact_conversion(zone: str, values: list[dt.datetime]) -> None:
    tz = zoneinfo.ZoneInfo(zone)
    stamp = TimestampFormatter(tz)
    for value in values:
        assert stamp(value) == iso_local(value, tz)
        # SQLite hands the same instant back as text
        assert stamp(value.isoformat(" ")) == iso_local(value, tz)


def test_every_minute_around_a_half_hour_transition() -> None:
    # America/St_Johns left daylight time on 2023-11-05 at 02:00 local = 04:30 UTC: the cache
    # must not carry one side's offset over to the other within that UTC day.
    tz = zoneinfo.ZoneInfo("America/St_Johns")
    stamp = TimestampFormatter(tz)
    start = dt.datetime(2023, 11, 5, 0, 0)
    for minute in range(0, 24 * 60, 7):
        value = start + dt.timedelta(minutes=minute, seconds=13)
        assert stamp(value) == iso_local(value, tz)
    assert stamp(dt.datetime(2023, 11, 5, 4, 29)) == "2023-11-05T01:59:00-02:30"
    assert stamp(dt.datetime(2023, 11, 5, 4, 31)) == "2023-11-05T01:01:00-03:30"


def test_none_is_empty() -> None:
    assert TimestampFormatter(zoneinfo.ZoneInfo("UTC"))(None) == ""
