"""Debian packages the tests run for real (Chromium, promtool): installed with apt when
missing, like Dovecot for the email tests (``emulators.mail.ensure_dovecot``); a test fails,
never skips, naming the install command when that does not work."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def ensure_debian_package(executable: str, package: str, timeout_s: float = 900.0) -> str:
    """``executable`` (an absolute path), installing Debian's ``package`` when it is missing."""
    if os.access(executable, os.X_OK):
        return executable
    install = f"apt-get install -y {package}"
    if shutil.which("apt-get") is None:
        pytest.fail(f"{executable} is missing and apt-get is not available", pytrace=False)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-o", "DPkg::Lock::Timeout=300", package]
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"could not run `{install}`: {exc}", pytrace=False)
    if done.returncode != 0 or not os.access(executable, os.X_OK):
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        pytest.fail(
            f"{executable} is missing and `{install}` failed ({tail[0]}); run it as root",
            pytrace=False,
        )
    return executable
