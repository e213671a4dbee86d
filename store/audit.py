"""The audit log: one row per executed action (who, what, on which filter, how many, when)."""

from __future__ import annotations

from typing import Any

from store.models import AuditLog, Operator


def record_audit(
    viewer: Operator,
    action: str,
    filter_text: str,
    count: int,
    detail: dict[str, Any] | None = None,
) -> AuditLog:
    """Write the ``AuditLog`` row of ``action`` done by ``viewer`` on ``count`` clients.

    The shell acting without an operator (an unsaved admin) is recorded with no operator and
    its name in ``detail["as"]``.
    """
    detail = dict(detail or {})
    if viewer.id is None:
        detail["as"] = viewer.name
    return AuditLog.create(
        operator=viewer.id, action=action, filter_text=filter_text, count=count, detail=detail
    )
