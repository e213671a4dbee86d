"""Run a command as a person at a terminal would: a pseudo-terminal as its stdin, stdout and
stderr, an answer typed when it asks ``[y/N]``."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import cli_env


def on_a_terminal(
    argv: list[str], cwd: Path, answer: str, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run ``argv`` on a pseudo-terminal in ``cwd``, type ``answer`` when it asks to confirm,
    and return the exit code and everything it wrote (newlines as ``\\n``)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        argv, cwd=cwd, env=env or cli_env(), stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    output = b""
    answered = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal closed: the process has ended
                    break
                if not chunk:
                    break
                output += chunk
            if not answered and b"[y/N]" in output:
                os.write(leader, answer.encode() + b"\n")
                answered = True
            if process.poll() is not None and not ready:
                break
        code = process.wait(timeout=30)
    finally:
        os.close(leader)
    return code, output.decode().replace("\r\n", "\n")


def switchboard_on_a_terminal(cwd: Path, args: list[str], answer: str) -> tuple[int, str]:
    """``switchboard ARGS`` (this checkout's code) on a pseudo-terminal; see ``on_a_terminal``."""
    return on_a_terminal([sys.executable, "-m", "commands", *args], cwd, answer)
