"""Every demo module loads when it is the first of ours a process imports (a bench, a test or
a script may start from any of them), and the ``demo`` group then has all its subcommands."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, cli_env

DEMO_MODULES = sorted(f"commands.{path.stem}" for path in (REPO_ROOT / "commands").glob("demo*.py"))
SUBCOMMANDS = ["app-link", "inbox"]


def test_the_demo_modules_are_found() -> None:
    assert {"commands.demo", "commands.demo_app", "commands.demo_inbox"} <= set(DEMO_MODULES)


@pytest.mark.parametrize("module", DEMO_MODULES)
def test_a_demo_module_imported_first_loads_and_the_demo_has_its_subcommands(module: str) -> None:
    script = (
        f"import {module}\n"
        "from commands.cli import cli\n"
        "print(' '.join(sorted(cli.commands['demo'].commands)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1:]
    assert done.stdout.split() == SUBCOMMANDS
