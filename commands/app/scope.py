"""The one scope rule of the admin bot, answered as HTTP: a client out of the operator's reach
is a 404 (``commands.admin.assignment.client_for``: admins any client; operators their own and
free ones, and with ``view_others`` the rest read-only)."""

from __future__ import annotations

from commands.admin.assignment import client_for
from commands.admin.context import CommandContext, CommandError
from commands.app.context import ApiError


def client_in_scope(ctx: CommandContext, client_id: int, *, viewing: bool = False) -> None:
    """Return when the operator may act on the client (``viewing``: may look at it); 404 with
    the admin bot's line otherwise."""
    try:
        client_for(ctx, str(client_id), viewing=viewing)
    except CommandError as exc:
        raise ApiError(404, str(exc)) from None
