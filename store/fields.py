"""Field types shared by the models."""

from __future__ import annotations

import json
from typing import Any

import peewee


class JSONField(peewee.TextField):
    """JSON kept as text, so the same column works on SQLite and PostgreSQL."""

    def db_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    def python_value(self, value: Any) -> Any:
        if value is None or not isinstance(value, str):
            return value
        return json.loads(value)
