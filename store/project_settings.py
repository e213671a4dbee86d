"""Project-wide values kept in the store (``ProjectSetting``): generated secrets and the like."""

from __future__ import annotations

from typing import Any

from store.clock import utcnow
from store.models import ProjectSetting


def get_setting(key: str, default: Any = None) -> Any:
    """The value stored under ``key`` (JSON), ``default`` when there is none."""
    row = ProjectSetting.get_or_none(ProjectSetting.key == key)
    return default if row is None else row.value


def put_setting(key: str, value: Any) -> None:
    """Store ``value`` (JSON-serialisable) under ``key``, replacing any earlier value."""
    now = utcnow()
    (
        ProjectSetting.insert(key=key, value=value, updated_at=now)
        .on_conflict(
            conflict_target=[ProjectSetting.key],
            update={ProjectSetting.value: value, ProjectSetting.updated_at: now},
        )
        .execute()
    )
