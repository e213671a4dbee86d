"""Who may use ``/ops``: the ops token as a cookie or a Bearer header, and the CSRF token
every action's form carries.

Authentication, as an engineer with a browser expects it: open ``/ops?token=TOKEN`` once; the
server answers with a cookie and a redirect to ``/ops`` (so the token leaves the address bar
and the history), and the cookie opens the page from then on. The cookie holds an HMAC of the
token, never the token; it is ``HttpOnly`` and ``SameSite=Strict``. Scripts and Prometheus
send ``Authorization: Bearer TOKEN`` instead. Every comparison is constant-time.

The actions are POST forms carrying a CSRF token (another HMAC of the ops token) that a
cross-site page cannot know; with ``SameSite=Strict`` the browser does not even send the
cookie along with a cross-site form. Without ``ops_token`` configured every ops route answers
403 saying so.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

from bots.webhook import secrets_match
from commands.delivery import ENGINE_KEY
from workers.engine import Engine

COOKIE = "switchboard_ops"
DISABLED = "ops is disabled: set ops_token in config.yaml (or SWITCHBOARD_OPS_TOKEN) to enable it"
CONFIRM = "yes"  # the value of a confirm step's ``confirm`` field


class OpsAuth:
    """The checks derived from ``ops_token`` (None: ops disabled)."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        key = (token or "").encode()
        self.session = hmac.new(key, b"switchboard ops session", hashlib.sha256).hexdigest()
        self.csrf = hmac.new(key, b"switchboard ops csrf", hashlib.sha256).hexdigest()

    def authorized(self, request: web.Request) -> bool:
        if self.token is None:
            return False
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and secrets_match(header[7:].strip(), self.token):
            return True
        return secrets_match(request.cookies.get(COOKIE), self.session)

    def guard(self, request: web.Request) -> None:
        """Raise 403 when ops is disabled, 401 when the request does not authenticate."""
        if self.token is None:
            raise web.HTTPForbidden(text=DISABLED)
        if not self.authorized(request):
            raise web.HTTPUnauthorized(
                text="ops: open /ops?token=... or send Authorization: Bearer <ops_token>"
            )


AUTH_KEY = web.AppKey("ops_auth", OpsAuth)


def engine_of(request: web.Request) -> Engine:
    engine = request.app[ENGINE_KEY]
    assert isinstance(engine, Engine)
    return engine


async def checked_form(request: web.Request) -> dict[str, str]:
    """The POSTed form's text fields, after the ops token and the CSRF token were checked."""
    auth = request.app[AUTH_KEY]
    auth.guard(request)
    form = await request.post()
    token = form.get("csrf")
    if not isinstance(token, str) or not secrets_match(token, auth.csrf):
        raise web.HTTPForbidden(text="ops: missing or wrong CSRF token; reload /ops and retry")
    return {k: v for k, v in form.items() if isinstance(v, str)}
