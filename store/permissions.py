"""Who may do what: a role's capabilities (``permissions:`` in config.yaml) changed per operator
by the overrides admins set (``/operators grant|revoke``), kept in ``operator_grant``.

An override that matches the role's default is removed rather than stored, so a later change
of the role's capabilities in config.yaml reaches that operator again.
"""

from __future__ import annotations

from config import CAPABILITIES, PermissionsSettings
from store.models import Operator, OperatorGrant


class UnknownCapability(ValueError):
    """A capability name that is not one of ``CAPABILITIES``."""


def check_capability(name: str) -> str:
    """``name`` lower-cased if it is a capability; ``UnknownCapability`` (one line) otherwise."""
    lowered = name.strip().lower()
    if lowered not in CAPABILITIES:
        raise UnknownCapability(
            f"Unknown capability {name!r}; capabilities: {', '.join(CAPABILITIES)}."
        )
    return lowered


def refusal(what: str, capability: str) -> str:
    """The one polite line for an action the operator may not take (``what``: ``/export``)."""
    return (
        f"Sorry, {what} needs the {capability!r} permission, which you do not have; "
        "an admin can grant it with /operators grant."
    )


def overrides_of(operator_id: int | None) -> dict[str, bool]:
    """The operator's overrides: capability -> granted (True) or revoked (False)."""
    if operator_id is None:
        return {}
    rows = OperatorGrant.select(OperatorGrant.capability, OperatorGrant.granted).where(
        OperatorGrant.operator == operator_id
    )
    return {row.capability: bool(row.granted) for row in rows}


def capabilities_of(operator: Operator, permissions: PermissionsSettings) -> frozenset[str]:
    """What ``operator`` may do: their role's capabilities with their overrides applied. The
    shell acting without ``--as`` (an unsaved admin, no id) has the admin role's."""
    allowed = set(permissions.of_role(operator.role))
    for capability, granted in overrides_of(operator.id).items():
        if granted:
            allowed.add(capability)
        else:
            allowed.discard(capability)
    return frozenset(allowed & set(CAPABILITIES))


def set_override(
    operator: Operator, capability: str, granted: bool, permissions: PermissionsSettings
) -> None:
    """Grant (``granted``) or revoke ``capability`` for ``operator``; an override equal to the
    role's default is dropped instead of stored."""
    capability = check_capability(capability)
    where = (OperatorGrant.operator == operator.id) & (OperatorGrant.capability == capability)
    if (capability in permissions.of_role(operator.role)) == granted:
        OperatorGrant.delete().where(where).execute()
        return
    (
        OperatorGrant.insert(operator=operator.id, capability=capability, granted=granted)
        .on_conflict(
            conflict_target=[OperatorGrant.operator, OperatorGrant.capability],
            update={OperatorGrant.granted: granted},
        )
        .execute()
    )


def bulk_capability(action: str) -> str:
    """The capability a bulk action needs: ``delete`` for deleting, ``bulk`` for the rest
    (marking, pinning, blocking, lists, labels, assigning)."""
    return "delete" if action == "delete" else "bulk"
