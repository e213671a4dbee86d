"""Loopback ports for tests: a free one for a process to listen on, and an aiohttp application
served on one for the length of a test block."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released): for a server a test starts
    in another process, or an address where nothing answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[str]:
    """``app`` on a loopback port the system picks (no race for a free one); yields its URL
    and cleans the app up (its on_cleanup hooks too) when the block ends, however it ends."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
