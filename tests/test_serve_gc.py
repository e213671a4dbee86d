"""serve's start-up objects are exempt from the collector's full passes (commands.web)."""

from __future__ import annotations

import gc
import weakref

import aiohttp
from aiohttp import web

from commands.web import freeze_startup_objects
from emulators.loopback import served


class Cycle:
    def __init__(self) -> None:
        self.me = self


async def ok(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def test_startup_objects_are_frozen_and_startup_garbage_is_not() -> None:
    collected: list[str] = []
    kept = Cycle()  # alive through start-up: frozen with it
    garbage = Cycle()  # unreachable at start-up: collected, not frozen for good
    weakref.finalize(garbage, collected.append, "garbage")
    del garbage
    app = web.Application()
    app.router.add_get("/", ok)
    app.on_startup.append(freeze_startup_objects)
    gc.disable()  # no collection of its own between here and start-up
    try:
        async with served(app) as url, aiohttp.ClientSession() as http:
            async with http.get(url) as response:
                assert response.status == 200
            assert collected == ["garbage"]
            assert gc.get_freeze_count() > 0
            assert not any(o is kept for o in gc.get_objects())  # untracked: frozen
    finally:
        gc.unfreeze()
        gc.enable()
    assert any(o is kept for o in gc.get_objects())
