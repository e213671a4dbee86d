"""Server-side state behind buttons: a selection of thousands of clients, a pending confirmation.

Telegram allows 64 bytes of callback data, so a button carries a short token and the state
lives in the store (``ProjectSetting`` rows ``tok:<token>``) for ``TOKEN_TTL_S`` seconds.

A confirmation (Send, Resend, Launch, Confirm, and their Cancel) is a one-use token: every
button and Mini App endpoint that acts on one takes it through ``take_confirmation``, so of a
double tap, a replayed request or two racing presses exactly one acts and the others are
told, by kind (``GONE``), that it was already used, cancelled or has expired.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, Final

from commands.admin.context import CommandContext, CommandError
from store.clock import utcnow
from store.db import write_transaction
from store.models import ProjectSetting

TOKEN_TTL_S = 24 * 3600  # seconds a button's state stays valid
PREFIX = "tok:"
# What a used, cancelled or expired confirmation answers, by token kind.
GONE: Final = {
    "broadcast": "This broadcast was already sent, cancelled or has expired.",
    "resendfailed": "This resend was already started, cancelled or has expired.",
    "campaign": "This campaign was already launched, cancelled or has expired.",
    "bulk": "This action was already confirmed, cancelled or has expired.",
    "readall": "This action was already confirmed, cancelled or has expired.",
}


def put(operator_id: int, kind: str, data: dict[str, Any]) -> str:
    """Store ``data`` for ``operator_id``; returns the 10-character token to put in a button."""
    token = secrets.token_hex(5)
    expires = utcnow() + dt.timedelta(seconds=TOKEN_TTL_S)
    # One transaction, one commit: every /clients page makes a token, and each commit waits
    # for its WAL flush (two of them were ~7 ms of /clients at 1M clients under load).
    with write_transaction():
        ProjectSetting.create(
            key=PREFIX + token,
            value={
                "operator": operator_id,
                "kind": kind,
                "data": data,
                "expires": expires.isoformat(),
            },
        )
        # Expired tokens are cleared as new ones are made: no background job needed.
        (
            ProjectSetting.delete()
            .where(
                ProjectSetting.key.startswith(PREFIX)
                & (ProjectSetting.updated_at < utcnow() - dt.timedelta(seconds=TOKEN_TTL_S))
            )
            .execute()
        )
    return token


def get(token: str, operator_id: int, kind: str) -> dict[str, Any] | None:
    """The data behind ``token`` if it exists, is ``kind``, belongs to the operator and is fresh."""
    row = ProjectSetting.get_or_none(ProjectSetting.key == PREFIX + token)
    if row is None or not isinstance(row.value, dict):
        return None
    value = row.value
    if value.get("operator") != operator_id or value.get("kind") != kind:
        return None
    if dt.datetime.fromisoformat(value["expires"]) < utcnow():
        return None
    data = value.get("data")
    return data if isinstance(data, dict) else None


def update(token: str, data: dict[str, Any]) -> None:
    row = ProjectSetting.get_or_none(ProjectSetting.key == PREFIX + token)
    if row is not None and isinstance(row.value, dict):
        value = dict(row.value)
        value["data"] = data
        ProjectSetting.update(value=value).where(ProjectSetting.key == row.key).execute()


def drop(token: str) -> None:
    ProjectSetting.delete().where(ProjectSetting.key == PREFIX + token).execute()


def take(token: str, operator_id: int, kind: str) -> dict[str, Any] | None:
    """``get`` and drop in one: the data for exactly one caller, however many presses of the
    same button race (the row's DELETE decides), None for the others."""
    data = get(token, operator_id, kind)
    if data is None:
        return None
    taken = ProjectSetting.delete().where(ProjectSetting.key == PREFIX + token).execute()
    return data if taken == 1 else None


def take_confirmation(ctx: CommandContext, token: str, kind: str) -> dict[str, Any]:
    """The state behind confirmation ``token`` of ``kind`` (a key of ``GONE``) for exactly one
    press however many race, so a double tap acts once; ``CommandError`` (``GONE[kind]``) for
    the other presses and for an expired token, another kind's or another operator's."""
    state = take(token, ctx.operator.id, kind)
    if state is None:
        raise CommandError(GONE[kind])
    return state
