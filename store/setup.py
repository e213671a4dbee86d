"""Mirroring the configuration into the store at start: bots and bootstrap operators."""

from __future__ import annotations

from collections.abc import Iterable

from store.db import database_proxy
from store.models import Bot, Operator


def sync_bots(bots: Iterable[tuple[str, str]]) -> None:
    """Make sure a ``Bot`` row exists for every configured ``(name, kind)``.

    Bots that left the configuration keep their rows (their clients stay browsable).
    """
    with database_proxy.atomic():
        for name, kind in bots:
            (
                Bot.insert(name=name, kind=kind)
                .on_conflict(conflict_target=[Bot.name], update={Bot.kind: kind})
                .execute()
            )


def bootstrap_operators(operators: Iterable[tuple[int, str, str, str | None]]) -> None:
    """Create the configured operators ``(telegram_id, role, name, email)`` the store lacks.

    An operator already in the store is left as it is: the admin bot may have changed them.
    """
    with database_proxy.atomic():
        for telegram_id, role, name, email in operators:
            (
                Operator.insert(telegram_id=telegram_id, role=role, name=name, email=email)
                .on_conflict_ignore()
                .execute()
            )
