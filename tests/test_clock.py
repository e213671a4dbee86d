"""One clock: every time a person reads is in the project's zone and says which zone
(``store.clock.shown``); machines get ISO 8601 with the offset (``store.clock.iso_local``)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from hypothesis import given
from hypothesis import strategies as st

from commands.health import Health, ServiceHealth
from commands.ops_data import OpsView
from commands.ops_page import render
from store.clock import file_stamp, iso_local, shown
from store.jobs import Progress
from workers.pulse import DispatcherPulse

ZONES = ("Europe/Moscow", "Asia/Almaty", "America/St_Johns", "Asia/Kathmandu", "UTC")
moments = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2040, 1, 1))


@given(zone=st.sampled_from(ZONES), value=moments, seconds=st.booleans())
def test_shown_is_the_iso_time_with_the_zone_named(
    zone: str, value: dt.datetime, seconds: bool
) -> None:
    tz = zoneinfo.ZoneInfo(zone)
    iso = iso_local(value, tz)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", iso), iso
    text = shown(value, tz, seconds=seconds)
    clock, label = text.rsplit(" ", 1)
    assert clock == iso[: 19 if seconds else 16].replace("T", " ")
    # A name where the zone has one, else the offset itself: never a bare local time.
    assert label.isalpha() or label == iso[19:], (text, iso)
    # The same instant given aware, or as the ISO text SQLite hands back, reads the same.
    assert shown(value.replace(tzinfo=dt.UTC), tz, seconds=seconds) == text
    assert shown(value.isoformat(" "), tz, seconds=seconds) == text
    assert shown(iso, tz, seconds=seconds) == text


def test_examples_and_empty_values() -> None:
    moscow = zoneinfo.ZoneInfo("Europe/Moscow")
    noon = dt.datetime(2026, 12, 6, 12, 0, 5)
    assert shown(noon, moscow) == "2026-12-06 15:00 MSK"
    assert shown(noon, moscow, seconds=True) == "2026-12-06 15:00:05 MSK"
    assert shown(noon, zoneinfo.ZoneInfo("Asia/Almaty")) == "2026-12-06 17:00 +05:00"
    assert shown(noon, zoneinfo.ZoneInfo("UTC")) == "2026-12-06 12:00 UTC"
    assert shown(None, moscow) == "—" and shown(None, moscow, empty="") == ""
    assert iso_local(None, moscow) == ""
    assert file_stamp(noon, moscow) == "20261206-150005"


def test_the_ops_page_shows_times_in_the_project_zone() -> None:
    created = dt.datetime(2026, 12, 6, 12, 0, 5)
    job = Progress(7, "broadcast", "running", 3, 1, 0, 0, 2, 0, 0.0, "", created, None)
    view = OpsView(generated_at=created, broker="memory", zone=zoneinfo.ZoneInfo("Europe/Moscow"))
    view.active_jobs = [job]
    service = ServiceHealth("memory", True, "ok", 1.0, True, "ok", DispatcherPulse(), [], None)
    health = Health(generated_at=created, service=service, bots=[], deliverable=True)
    html = render(view, health, zoneinfo.ZoneInfo("Europe/Moscow"), "csrf")
    assert "generated 2026-12-06 15:00:05 MSK" in html
    assert "<td>2026-12-06 15:00:05 MSK</td>" in html
    assert "UTC" not in html
    assert job.as_json(zoneinfo.ZoneInfo("Europe/Moscow"))["created_at"] == (
        "2026-12-06T15:00:05+03:00"
    )
