"""When campaigns may send: ``CampaignSettings`` and its quiet hours
(``parse_quiet_hours``)."""

from __future__ import annotations

import datetime as dt
import re

from pydantic import field_validator

from config.fields import StrictModel

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_quiet_hours(text: str) -> tuple[dt.time, dt.time]:
    """``22:00-09:00`` -> (start, end); ``ValueError`` naming what is wrong."""
    parts = text.replace(" ", "").split("-")
    if len(parts) != 2 or not all(_HHMM.match(p) for p in parts):
        raise ValueError(f"quiet hours {text!r}: expected HH:MM-HH:MM, e.g. 22:00-09:00")
    start, end = (dt.time.fromisoformat(p.zfill(5)) for p in parts)
    if start == end:
        raise ValueError(f"quiet hours {text!r}: start and end are the same")
    return start, end


class CampaignSettings(StrictModel):
    """Campaigns (`switchboard campaigns`): when they may send."""

    quiet_hours: str | None = None
    """`22:00-09:00`: no campaign sends between these times of the project's `timezone` (may wrap
    past midnight); a sending campaign pauses and resumes by itself. Unset: campaigns send at any
    hour.
    """

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str | None) -> str | None:
        if value is not None:
            parse_quiet_hours(value)
        return value
