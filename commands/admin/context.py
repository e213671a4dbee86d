"""Who is asking: the operator behind a command, their role and the project's settings."""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from store.models import Operator


class CommandError(Exception):
    """A command refused with a message for the operator (one or two lines)."""


@dataclass(slots=True)
class CommandContext:
    operator: Operator
    settings: Settings

    @property
    def is_admin(self) -> bool:
        return self.operator.role == "admin"


def find_operator(telegram_id: int) -> Operator | None:
    """The active operator with this Telegram user id, or None for a stranger."""
    return Operator.get_or_none((Operator.telegram_id == telegram_id) & (Operator.active == True))  # noqa: E712
