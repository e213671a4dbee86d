"""Loopback ports for tests, benchmarks and the emulators: a free one for a process to listen
on, and an aiohttp application served on one for the length of a block.

It lives beside the emulators (which import none of ours) so that ``tests`` and ``bench`` both
use it without ``bench`` importing ``tests``.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released): for a server started in
    another process, an address that must be known before its app is built, or an address
    where nothing answers."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def served(app: web.Application, port: int = 0) -> AsyncIterator[str]:
    """``app`` on loopback ``port`` (default 0: one the system picks, so no race for a free
    one); yields its URL and cleans the app up (its on_cleanup hooks too) when the block ends,
    however it ends."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, LOOPBACK, port).start()
        yield f"http://{LOOPBACK}:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
