"""The Mini App's JSON API: every endpoint declared once, checked and mounted in one place.

Contract for endpoint modules (``commands/app/endpoints/*.py``, imported by ``load_endpoints``;
add a module there, never a line here)::

    class ClientsIn(ApiModel):
        tab: str = "all"
        '''Which tab (F10).'''

    class ClientsOut(ApiModel):
        total: int
        '''Clients matching.'''

    @API.endpoint("GET", "/clients", ClientsOut, "The client list, a page at a time.",
                  request=ClientsIn, capability=None)
    def clients(ctx: ApiContext, params: ClientsIn) -> ClientsOut: ...

- ``path`` is below ``/app/api/v1`` and may hold ``{name}`` parts; they, with the query string
  (GET, DELETE) or the JSON object body (POST, PUT, PATCH), fill ``request``. A bad field is
  400 ``{"ok": false, "error": "<one line>"}``.
- The handler is synchronous (the store is) and runs in a worker thread. Before it runs the
  registry checked the session (``Authorization: Bearer``, 401 otherwise), that the operator is
  still active (401) and has ``capability`` (403, ``store.permissions.refusal``'s line). It
  returns an instance of ``response``, sent as JSON.
- Errors: raise ``ApiError(status, line)``; ``CommandError`` (the admin layer's) is 400,
  ``Refused`` 403, ``store.errors.NotFound`` 404, ``StoreUnavailable`` 503. Anything else is
  a logged 500 with one line.
- ``API.stream(...)`` declares an endpoint whose async handler answers itself (server-sent
  events): same checks, handler ``async (ctx, params, request) -> web.StreamResponse``.
- ``auth="init_data"``: the endpoint takes Telegram's initData in its body (``init_data``)
  instead of a session (only ``POST /session``).

``render_docs`` writes ``docs/app-api.md`` from this registry (``make docs``; a test compares).
"""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from commands.admin.context import CommandError, Refused
from commands.app.context import ApiContext, ApiError, AppState
from config import CAPABILITIES
from store.errors import NotFound, StoreUnavailable
from store.permissions import refusal

log = logging.getLogger("switchboard.app")

PREFIX = "/app/api/v1"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
MAX_BODY_BYTES = 64 * 1024

Auth = Literal["session", "init_data"]
Handler = Callable[[ApiContext, Any], BaseModel]
StreamHandler = Callable[[ApiContext, Any, web.Request], Awaitable[web.StreamResponse]]


class ApiModel(BaseModel):
    """Base of every request and response shape: unknown fields refused, a string under a
    field is its description in docs/app-api.md."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class NoParams(ApiModel):
    """An endpoint that takes nothing."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    summary: str
    request: type[BaseModel]
    response: type[BaseModel] | None
    capability: str | None
    auth: Auth
    handler: Handler | None = None
    stream: StreamHandler | None = None

    @property
    def full_path(self) -> str:
        return PREFIX + self.path


class ApiRegistry:
    """Every endpoint of the app's API, by (method, path)."""

    def __init__(self) -> None:
        self.endpoints: dict[tuple[str, str], Endpoint] = {}

    def _add(self, endpoint: Endpoint) -> None:
        key = (endpoint.method, endpoint.path)
        if key in self.endpoints:
            raise ValueError(f"endpoint {endpoint.method} {endpoint.path} declared twice")
        if endpoint.capability is not None and endpoint.capability not in CAPABILITIES:
            raise ValueError(f"unknown capability {endpoint.capability!r}")
        if not endpoint.path.startswith("/"):
            raise ValueError(f"path {endpoint.path!r} must start with /")
        self.endpoints[key] = endpoint

    def endpoint(
        self,
        method: str,
        path: str,
        response: type[BaseModel],
        summary: str,
        *,
        request: type[BaseModel] = NoParams,
        capability: str | None = None,
        auth: Auth = "session",
    ) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self._add(
                Endpoint(method.upper(), path, summary, request, response, capability, auth, fn)
            )
            return fn

        return register

    def stream(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        request: type[BaseModel] = NoParams,
        capability: str | None = None,
    ) -> Callable[[StreamHandler], StreamHandler]:
        def register(fn: StreamHandler) -> StreamHandler:
            self._add(
                Endpoint(
                    method.upper(), path, summary, request, None, capability, "session", None, fn
                )
            )
            return fn

        return register

    def mount(self, app: web.Application) -> None:
        """Add every endpoint's route, then a JSON 404 for any other path under the API."""
        for endpoint in sorted(self.endpoints.values(), key=lambda e: (e.path, e.method)):
            app.router.add_route(endpoint.method, endpoint.full_path, _route(endpoint))
        app.router.add_route("*", PREFIX + "/{tail:.*}", _unknown)
        app.router.add_route("*", "/app/api/{tail:.*}", _unknown)


API = ApiRegistry()
STATE_KEY = web.AppKey("app_state", AppState)


def load_endpoints() -> ApiRegistry:
    """Import every module of ``commands.app.endpoints`` (each declares its endpoints)."""
    from commands.app import endpoints

    for module in pkgutil.iter_modules(endpoints.__path__):
        importlib.import_module(f"{endpoints.__name__}.{module.name}")
    return API


def error(status: int, message: str) -> web.Response:
    """The API's one error shape: ``{"ok": false, "error": "<one line>"}``."""
    line = message.strip().splitlines()[0] if message.strip() else "error"
    return web.json_response({"ok": False, "error": line}, status=status)


async def _unknown(request: web.Request) -> web.Response:
    return error(404, f"no endpoint {request.method} {request.path}")


def _route(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await _serve(endpoint, request)
        except ApiError as exc:
            return error(exc.status, exc.message)
        except Refused as exc:
            return error(403, str(exc))
        except CommandError as exc:
            return error(400, str(exc))
        except NotFound as exc:
            return error(404, str(exc))
        except StoreUnavailable:
            return error(503, "the store is unavailable; try again shortly")
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            # aiohttp's own refusals (a body over client_max_size: 413) in the API's shape too.
            return error(exc.status, exc.reason)
        except Exception as exc:
            log.exception("app api: %s %s failed", endpoint.method, endpoint.path)
            return error(500, f"internal error ({type(exc).__name__})")

    return handle


async def _serve(endpoint: Endpoint, request: web.Request) -> web.StreamResponse:
    from bots.webhook import store_call

    state = request.app[STATE_KEY]
    if endpoint.auth == "init_data":
        raw = await _raw_params(endpoint, request)
        init_data = raw.pop("init_data", None)
        ctx = await store_call(state.context_from_init_data, init_data)
    else:
        # Who asks comes first: a stranger learns nothing about the request's shape.
        ctx = await store_call(state.context_from_header, request.headers.get("Authorization"))
        raw = await _raw_params(endpoint, request)
    ctx.app = request.app
    if endpoint.capability is not None and not ctx.can(endpoint.capability):
        raise ApiError(403, refusal(f"{endpoint.method} {endpoint.path}", endpoint.capability))
    try:
        params = endpoint.request.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ApiError(400, f"{where}: {first['msg']}") from None
    if endpoint.stream is not None:
        return await endpoint.stream(ctx, params, request)
    assert endpoint.handler is not None and endpoint.response is not None
    result = await store_call(endpoint.handler, ctx, params)
    if not isinstance(result, endpoint.response):
        raise TypeError(f"{endpoint.path} returned {type(result).__name__}")
    return web.json_response(result.model_dump(mode="json"))


async def _raw_params(endpoint: Endpoint, request: web.Request) -> dict[str, Any]:
    """Path parts plus the query string (GET, DELETE) or the JSON object body."""
    raw: dict[str, Any] = {}
    if endpoint.method in BODY_METHODS and endpoint.stream is None:  # a stream reads its own
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise ApiError(413, f"body over {MAX_BODY_BYTES} bytes")
        text = await request.text()
        if text.strip():
            try:
                body = json.loads(text)
            except ValueError:
                raise ApiError(400, "body is not JSON") from None
            if not isinstance(body, dict):
                raise ApiError(400, "body must be a JSON object")
            raw.update(body)
    else:
        raw.update(request.query)
    raw.update(request.match_info)
    return raw
