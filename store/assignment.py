"""Binding clients to operators: manual assignment and automatic round-robin distribution.

When auto-assignment is on, each new client is bound to the next active operator on shift, in
order of operator id, wrapping around. The cursor (the last operator given a client) is a
``ProjectSetting`` row locked for the duration of the choice (``FOR UPDATE`` on PostgreSQL,
the write lock on SQLite), so concurrent ingest never hands two clients to the same turn.
"""

from __future__ import annotations

from store.clients.unread import follow_responsible
from store.clock import utcnow
from store.db import is_postgres, write_transaction
from store.models import Client, Operator, ProjectSetting

AUTOASSIGN_KEY = "autoassign.enabled"
CURSOR_KEY = "autoassign.cursor"


def autoassign_enabled() -> bool:
    row = ProjectSetting.get_or_none(ProjectSetting.key == AUTOASSIGN_KEY)
    return bool(row and row.value)


def set_autoassign(enabled: bool) -> None:
    (
        ProjectSetting.insert(key=AUTOASSIGN_KEY, value=enabled, updated_at=utcnow())
        .on_conflict(
            conflict_target=[ProjectSetting.key],
            update={ProjectSetting.value: enabled, ProjectSetting.updated_at: utcnow()},
        )
        .execute()
    )


def set_on_shift(operator_id: int, on_shift: bool) -> None:
    Operator.update(on_shift=on_shift).where(Operator.id == operator_id).execute()


def assign_round_robin(client_id: int) -> int | None:
    """Bind a free client to the next operator on shift; returns the operator id or None
    (auto-assignment off, nobody on shift, or the client already bound)."""
    with write_transaction():
        if not autoassign_enabled():
            return None
        on_shift = [
            op.id
            for op in Operator.select(Operator.id)
            .where((Operator.active == True) & (Operator.on_shift == True))  # noqa: E712
            .order_by(Operator.id)
        ]
        if not on_shift:
            return None
        ProjectSetting.insert(key=CURSOR_KEY, value=0).on_conflict_ignore().execute()
        cursor_query = ProjectSetting.select().where(ProjectSetting.key == CURSOR_KEY)
        if is_postgres():
            cursor_query = cursor_query.for_update()
        last = int(cursor_query.get().value or 0)
        chosen = next((op for op in on_shift if op > last), on_shift[0])
        bound = (
            Client.update(responsible=chosen)
            .where((Client.id == client_id) & Client.responsible.is_null())
            .execute()
        )
        if not bound:
            return None
        follow_responsible([client_id], chosen)
        ProjectSetting.update(value=chosen, updated_at=utcnow()).where(
            ProjectSetting.key == CURSOR_KEY
        ).execute()
        return chosen


def assign(client_ids: list[int], operator_id: int | None) -> int:
    """Bind the given clients to ``operator_id`` (None frees them); returns how many changed."""
    with write_transaction():
        changed = int(
            Client.update(responsible=operator_id).where(Client.id.in_(client_ids)).execute()
        )
        follow_responsible(client_ids, operator_id)
    return changed
