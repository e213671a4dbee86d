"""Input an operator still owes a command: the message of a broadcast, a new list's name.

A command that needs a second message stores what it waits for here (``ProjectSetting`` row
``pending:<operator id>``, one per operator, valid ``PENDING_TTL_S`` seconds); the next plain
text from that operator goes to the handler registered for its ``kind``
(``CommandSet.awaiting``). Any other command or ``/cancel`` drops it, so a stale prompt never
swallows a later message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from store.clock import utcnow
from store.models import ProjectSetting

PENDING_TTL_S = 3600  # seconds an unanswered prompt stays open
PREFIX = "pending:"


@dataclass(frozen=True, slots=True)
class Pending:
    kind: str
    data: dict[str, Any]


def _key(operator_id: int) -> str:
    return f"{PREFIX}{operator_id}"


def wait_for(operator_id: int, kind: str, data: dict[str, Any]) -> None:
    """Make the operator's next plain message the input of ``kind`` (replacing any other)."""
    expires = (utcnow() + dt.timedelta(seconds=PENDING_TTL_S)).isoformat()
    value = {"kind": kind, "data": data, "expires": expires}
    (
        ProjectSetting.insert(key=_key(operator_id), value=value, updated_at=utcnow())
        .on_conflict(
            conflict_target=[ProjectSetting.key],
            update={ProjectSetting.value: value, ProjectSetting.updated_at: utcnow()},
        )
        .execute()
    )


def current(operator_id: int) -> Pending | None:
    """What the operator's next plain message answers, if anything (and still fresh)."""
    row = ProjectSetting.get_or_none(ProjectSetting.key == _key(operator_id))
    if row is None or not isinstance(row.value, dict):
        return None
    value = row.value
    if dt.datetime.fromisoformat(value.get("expires", "1970-01-01")) < utcnow():
        clear(operator_id)
        return None
    data = value.get("data")
    return Pending(str(value.get("kind")), data if isinstance(data, dict) else {})


def clear(operator_id: int) -> bool:
    """Drop the operator's prompt; True when there was one."""
    return bool(ProjectSetting.delete().where(ProjectSetting.key == _key(operator_id)).execute())
