"""Who is asking: the operator behind a command, their role and the project's settings."""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from store.models import Operator
from store.permissions import capabilities_of


class CommandError(Exception):
    """A command refused with a message for the operator (one or two lines)."""


class Refused(CommandError):
    """The operator lacks a capability: the reply is this one line, without the usage."""


@dataclass(slots=True)
class CommandContext:
    operator: Operator
    settings: Settings

    @property
    def is_admin(self) -> bool:
        return self.operator.role == "admin"

    @property
    def capabilities(self) -> frozenset[str]:
        """What the operator may do: their role's capabilities and their overrides, read
        at each call (an admin's grant applies to the very next press)."""
        return capabilities_of(self.operator, self.settings.permissions)

    def can(self, capability: str) -> bool:
        return capability in self.capabilities


def find_operator(telegram_id: int) -> Operator | None:
    """The active operator with this Telegram user id, or None for a stranger."""
    return Operator.get_or_none((Operator.telegram_id == telegram_id) & (Operator.active == True))  # noqa: E712
