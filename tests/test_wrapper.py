"""``./switchboard``, the wrapper at the top of the checkout: it runs the virtualenv's
``switchboard`` with the arguments as given, and makes the virtualenv first when it is missing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT, cli_env

FAKE_SWITCHBOARD = '#!/bin/sh\nfor a in "$@"; do echo "arg: $a"; done\n'


def _checkout(tmp_path: Path) -> Path:
    shutil.copy(REPO_ROOT / "switchboard", tmp_path / "switchboard")
    return tmp_path


def _run(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["./switchboard", *args], cwd=cwd, env=cli_env(env), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def test_the_wrapper_passes_every_argument_to_the_virtualenv(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    fake = checkout / ".venv" / "bin" / "switchboard"
    fake.parent.mkdir(parents=True)
    fake.write_text(FAKE_SWITCHBOARD)
    fake.chmod(0o755)
    result = _run(checkout, "admin", "--as", "111", "/clients tab:mine 'x y'")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["arg: admin", "arg: --as", "arg: 111",
                                          "arg: /clients tab:mine 'x y'"]  # fmt: skip
    assert result.stderr == ""


def test_a_missing_virtualenv_is_made_with_make_install_first(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    # A stand-in Makefile: the real `make install` downloads the dependencies.
    (checkout / "stub").write_text(FAKE_SWITCHBOARD)
    (checkout / "Makefile").write_text(
        "install:\n\tmkdir -p .venv/bin\n\tinstall -m 755 stub .venv/bin/switchboard\n"
    )
    first = _run(checkout, "version")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "arg: version\n"
    assert "creating it with 'make install' (once)" in first.stderr
    second = _run(checkout, "version")
    assert second.stdout == "arg: version\n" and second.stderr == ""


def test_a_failed_install_is_one_line_and_exit_1(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    (checkout / "Makefile").write_text("install:\n\tfalse\n")
    result = _run(checkout, "version")
    assert result.returncode == 1
    assert (
        result.stderr.splitlines()[-1] == "switchboard: 'make install' failed; see the lines above"
    )


def test_the_real_wrapper_runs_this_checkout(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(REPO_ROOT / "switchboard"), "--help"], cwd=tmp_path, capture_output=True, text=True,
        env=cli_env({"SWITCHBOARD_VENV": sys.prefix}), timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Switchboard: clients from Telegram" in result.stdout
