"""Who is calling the app's API: ``ApiContext`` (the operator, read from the store at every
call) and ``AppState`` (what the app was started with: settings, the keys, the limits).

An ``ApiContext`` is also a ``CommandContext``, so an endpoint may call the admin layer's
functions (``commands.admin.*``) with it and get exactly the bot's scope and permission rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from commands.admin.context import CommandContext, find_operator
from commands.app.auth import AuthError, SessionKeys, verify_init_data
from config import Settings
from store.models import Operator
from store.permissions import capabilities_of, refusal

UNKNOWN_USER = "this Telegram account is not an operator of this Switchboard"


class ApiError(Exception):
    """An answer other than 200: ``status`` and the one line the client gets."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class ApiContext(CommandContext):
    """The operator behind one API call; ``app`` is the aiohttp application (for endpoints
    that need what the service runs, such as the delivery engine)."""

    state: AppState | None = None
    app: Any = None
    _capabilities: frozenset[str] | None = field(default=None, repr=False)

    @property
    def capabilities(self) -> frozenset[str]:
        # Read once per call: one request sees one consistent set of permissions.
        if self._capabilities is None:
            self._capabilities = capabilities_of(self.operator, self.settings.permissions)
        return self._capabilities

    def require(self, capability: str, what: str) -> None:
        """403 with the admin bot's refusal line unless the operator has ``capability``."""
        if not self.can(capability):
            raise ApiError(403, refusal(what, capability))


@dataclass(frozen=True, slots=True)
class AppState:
    """The app's configuration, derived once from ``admin_bot``'s settings."""

    settings: Settings
    bot_token: str
    keys: SessionKeys
    init_data_max_age_s: int

    @classmethod
    def from_settings(cls, settings: Settings) -> AppState:
        admin = settings.admin_bot
        if admin is None:
            raise ValueError("the Mini App needs admin_bot configured")
        token = admin.token.get_secret_value()
        keys = SessionKeys.from_bot_token(token, admin.app_session_s)
        return cls(settings, token, keys, admin.app_init_data_max_age_s)

    def context_from_init_data(self, init_data: object) -> ApiContext:
        """The operator Telegram's initData names; 401 when it is not valid or not an operator."""
        if not isinstance(init_data, str):
            raise ApiError(401, "send Telegram.WebApp.initData as init_data")
        try:
            parsed = verify_init_data(self.bot_token, init_data, max_age_s=self.init_data_max_age_s)
        except AuthError as exc:
            raise ApiError(401, str(exc)) from None
        assert parsed.user is not None  # verify_init_data refuses initData without one
        operator = find_operator(parsed.user.id)
        if operator is None:
            raise ApiError(401, UNKNOWN_USER)
        return self._context(operator)

    def context_from_header(self, header: str | None) -> ApiContext:
        """The operator of the ``Authorization: Bearer`` session; 401 for none, a forged or
        expired one, or an operator removed or deactivated since."""
        if not header or not header.startswith("Bearer "):
            raise ApiError(401, "send Authorization: Bearer <session token>")
        try:
            operator_id = self.keys.operator_id(header[7:].strip())
        except AuthError as exc:
            raise ApiError(401, str(exc)) from None
        operator = _active_operator(operator_id)
        if operator is None:
            raise ApiError(401, "this operator no longer has access")
        return self._context(operator)

    def _context(self, operator: Operator) -> ApiContext:
        return ApiContext(operator=operator, settings=self.settings, state=self)


def _active_operator(operator_id: int) -> Operator | None:
    return Operator.get_or_none((Operator.id == operator_id) & (Operator.active == True))  # noqa: E712
