"""The HTTP service of ``switchboard serve``: health now; webhooks, ops and the app mount here."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from config import Settings
from store.db import ping
from store.errors import StoreError
from store.write_health import WRITES
from workers.broker import broker_state

SETTINGS_KEY = web.AppKey("settings", Settings)
ADAPTERS_KEY = web.AppKey("adapters", dict)

# Each layer that serves HTTP (webhooks, ops) adds its routes through one of these.
RouteInstaller = Callable[[web.Application, Settings], None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# ``/healthz?verbose=1``: health per bot and component, behind the ops token (``install_ops``).
VERBOSE_HEALTH_KEY: web.AppKey[Handler] = web.AppKey("verbose_health")


async def healthz(request: web.Request) -> web.StreamResponse:
    """200 when the store and the broker both answer, 503 otherwise; JSON either way.

    ``"store": "degraded: ..."`` (``"status": "degraded"``, still 200) when the database
    answers but this process's writes keep failing (``store.write_health``): taking this
    instance out of a load balancer would not help, as every instance shares the database;
    alert on the body or on ``status`` instead. ``?verbose=1``: see ``commands.health``.
    """
    if request.query.get("verbose", "0") not in ("", "0"):
        verbose = request.app.get(VERBOSE_HEALTH_KEY)
        if verbose is None:
            raise web.HTTPNotFound(text="healthz: verbose health needs ops (set ops_token)")
        return await verbose(request)
    settings = request.app[SETTINGS_KEY]
    store_ok, store_state = await _check(_store_state)
    broker_ok, broker_word = await _check(lambda: broker_state(settings.broker_url))
    status = "ok" if store_ok and broker_ok else "unavailable"
    if store_state == "ok" and (why := WRITES.degraded()) is not None:
        store_state = f"degraded: {why}"
        status = "degraded" if status == "ok" else status
    body = {"status": status, "store": store_state, "broker": broker_word}
    return web.json_response(body, status=200 if store_ok and broker_ok else 503)


def _store_state() -> tuple[bool, str]:
    try:
        ping()
        return True, "ok"
    except StoreError as exc:
        return False, f"unreachable: {exc}"


async def _check(probe: Callable[[], tuple[bool, str]]) -> tuple[bool, str]:
    try:
        return await asyncio.wait_for(asyncio.to_thread(probe), timeout=5)
    except TimeoutError:
        return False, "timeout"


def install_channels(app: web.Application, settings: Settings) -> None:
    """Build every configured bot's adapter, mount its webhooks, start and close it with the app."""
    from bots.registry import build_adapters

    adapters = build_adapters(settings)
    app[ADAPTERS_KEY] = adapters
    for adapter in adapters.values():
        adapter.add_routes(app)

    async def start(_: web.Application) -> None:
        for adapter in adapters.values():
            await adapter.start()

    async def close(_: web.Application) -> None:
        for adapter in adapters.values():
            await adapter.close()

    app.on_startup.append(start)
    app.on_cleanup.append(close)


async def freeze_startup_objects(_: web.Application) -> None:
    """Exempt what start-up made from the garbage collector's full passes (an ``on_startup``
    hook, appended last): the modules, settings models and adapters are ~235,000 objects
    that live as long as the process, and a full pass over them took 0.4–0.6 s on the
    loaded benchmark machine — a stall of every request in flight (docs/benchmarks.md).
    Start-up's garbage is collected first, so none of it is kept for good."""
    gc.collect()
    gc.freeze()


def serve_installers() -> list[RouteInstaller]:
    """What ``switchboard serve`` (and the demo) mount, in order: the one list to extend."""
    from commands.admin.telegram import install_admin_bot
    from commands.app.serve import install_app
    from commands.delivery import install_delivery
    from commands.ops import install_ops

    return [install_channels, install_delivery, install_ops, install_admin_bot, install_app]


def build_app(
    settings: Settings,
    installers: Sequence[RouteInstaller] | None = None,
    on_startup: list[Callable[[web.Application], Awaitable[None]]] | None = None,
) -> web.Application:
    """The aiohttp application; ``installers`` add the routes of the other layers."""
    app = web.Application(client_max_size=1024 * 1024)
    app[SETTINGS_KEY] = settings
    app.router.add_get("/healthz", healthz)
    for install in installers or []:
        install(app, settings)
    for hook in on_startup or []:
        app.on_startup.append(hook)
    return app
