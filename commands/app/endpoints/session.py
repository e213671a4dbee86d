"""``POST /session`` (initData for a session token) and ``GET /me`` (who the session is)."""

from __future__ import annotations

import time

from commands.app.api import API, ApiModel
from commands.app.context import ApiContext, ApiError
from store.clients.unread import unread_count
from store.clock import iso_local, utcnow


class SessionIn(ApiModel):
    """Nothing but ``init_data`` (taken by the registry before this model is read)."""


class SessionOut(ApiModel):
    token: str
    """Send it as `Authorization: Bearer <token>` with every other call."""
    expires_at: int
    """Unix seconds after which the token is refused (401): renew with fresh initData."""
    expires_in_s: int
    """Seconds the token is valid from now."""


@API.endpoint(
    "POST",
    "/session",
    SessionOut,
    'Exchange Telegram\'s signed initData (`{"init_data": ...}`) for a session token.',
    request=SessionIn,
    auth="init_data",
)
def open_session(ctx: ApiContext, _: SessionIn) -> SessionOut:
    if ctx.state is None or ctx.operator.id is None:
        raise ApiError(401, "no session without an operator")
    token, expires = ctx.state.keys.issue(ctx.operator.id)
    return SessionOut(token=token, expires_at=expires, expires_in_s=expires - int(time.time()))


class MeOut(ApiModel):
    id: int
    """The operator's id in the store."""
    telegram_id: int
    """Their Telegram user id."""
    name: str
    """Their name as staff see it."""
    role: str
    """`admin` or `operator`."""
    capabilities: list[str]
    """What they may do (`config.CAPABILITIES`), their role's with their overrides applied."""
    timezone: str
    """The project's IANA zone: every time the app shows is in it."""
    now: str
    """The server's time in that zone, ISO 8601 with the offset."""
    unread: int
    """Unread dialogs they answer for (F15): all for an admin, their own for an operator."""


@API.endpoint(
    "GET", "/me", MeOut, "The operator of the session, their permissions and unread count."
)
def me(ctx: ApiContext, _: object) -> MeOut:
    operator = ctx.operator
    return MeOut(
        id=operator.id,
        telegram_id=operator.telegram_id,
        name=operator.name,
        role=operator.role,
        capabilities=sorted(ctx.capabilities),
        timezone=ctx.settings.timezone,
        now=iso_local(utcnow(), ctx.settings.zone),
        unread=unread_count(operator),
    )
