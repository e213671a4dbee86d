"""A real headless Chromium for the dashboard tests: Debian's ``chromium``, driven by Playwright.

Playwright's own browser download does not work here, so the package is installed with apt
when missing (like Dovecot for the email tests) and launched from ``/usr/bin/chromium`` with a
fresh profile and nothing that reaches the network on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import BrowserContext, async_playwright

from tests.debian import ensure_debian_package

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def ensure_chromium(timeout_s: float = 900.0) -> str:
    """``/usr/bin/chromium``, installing Debian's package when it is missing; fails the test
    naming the install command when that does not work."""
    return ensure_debian_package(CHROMIUM, "chromium", timeout_s)


@asynccontextmanager
async def chromium(profile_dir: Path) -> AsyncIterator[BrowserContext]:
    """A headless Chromium with a fresh user-data-dir under ``profile_dir`` (Playwright passes
    it as ``--user-data-dir``; it refuses that flag among ``args``)."""
    executable = ensure_chromium()
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile_dir / "chromium-profile"),
            executable_path=executable,
            headless=True,
            args=FLAGS,
        )
        try:
            yield context
        finally:
            await context.close()
