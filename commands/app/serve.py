"""Mount the Mini App on ``switchboard serve``: ``/app/``, ``/app/static/<version>/...`` and
the JSON API under ``/app/api/v1`` (``commands.app.api``). Only with ``admin_bot`` configured:
the app's users are the admin bot's operators, authenticated with its token.
"""

from __future__ import annotations

from aiohttp import web

from commands.app.api import STATE_KEY, ApiRegistry, error, load_endpoints
from commands.app.assets import Asset, Assets
from commands.app.context import AppState
from config import Settings

ASSETS_KEY = web.AppKey("app_assets", Assets)
YEAR_S = 365 * 24 * 3600
# Our own files only; Telegram's script is vendored (static/vendor), nothing from other hosts.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'"
)


def install_app(app: web.Application, settings: Settings) -> None:
    """Serve the Mini App when ``admin_bot`` is configured."""
    mount_app(app, settings, load_endpoints())


def mount_app(app: web.Application, settings: Settings, registry: ApiRegistry) -> None:
    """``install_app`` with the endpoints of ``registry`` (tests add their own)."""
    if settings.admin_bot is None:
        return
    app[STATE_KEY] = AppState.from_settings(settings)
    app[ASSETS_KEY] = Assets.load()
    app.router.add_get("/app", _to_index)
    app.router.add_get("/app/", index)
    app.router.add_get("/app/static/{version}/{path:.+}", static)
    registry.mount(app)


async def _to_index(request: web.Request) -> web.Response:
    query = f"?{request.query_string}" if request.query_string else ""
    raise web.HTTPPermanentRedirect("/app/" + query)


async def index(request: web.Request) -> web.Response:
    response = _send(request, request.app[ASSETS_KEY].index)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def static(request: web.Request) -> web.Response:
    assets = request.app[ASSETS_KEY]
    asset = assets.files.get(request.match_info["path"])
    if request.match_info["version"] != assets.version or asset is None:
        # An old version's URL gets 404 rather than new content cached under the old name.
        return error(404, f"no asset {request.path} (current version {assets.version})")
    response = _send(request, asset)
    response.headers["Cache-Control"] = f"public, max-age={YEAR_S}, immutable"
    return response


def _send(request: web.Request, asset: Asset) -> web.Response:
    accepts_gzip = "gzip" in request.headers.get("Accept-Encoding", "").lower()
    if asset.gzipped is not None and accepts_gzip:
        response = web.Response(body=asset.gzipped)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = web.Response(body=asset.body)
    response.headers["Content-Type"] = asset.content_type
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
