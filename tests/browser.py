"""A real headless Chromium for the dashboard tests: Debian's ``chromium``, driven by Playwright.

Playwright's own browser download does not work here, so the package is installed with apt
when missing (like Dovecot for the email tests) and launched from ``/usr/bin/chromium`` with a
fresh profile and nothing that reaches the network on its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, async_playwright

CHROMIUM = "/usr/bin/chromium"
INSTALL_COMMAND = "apt-get install -y chromium"
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
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    if shutil.which("apt-get") is None:
        pytest.fail(f"{CHROMIUM} is missing and apt-get is not available", pytrace=False)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-o", "DPkg::Lock::Timeout=300", "chromium"]
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"could not run `{INSTALL_COMMAND}`: {exc}", pytrace=False)
    if done.returncode != 0 or not os.access(CHROMIUM, os.X_OK):
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        pytest.fail(
            f"chromium is missing and `{INSTALL_COMMAND}` failed ({tail[0]}); run it as root",
            pytrace=False,
        )
    return CHROMIUM


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
