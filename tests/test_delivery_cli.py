"""The delivery commands as a user runs them."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli


def test_worker_refuses_the_memory_broker_in_one_line(tmp_path: Path) -> None:
    assert run_cli("migrate", cwd=tmp_path).returncode == 0
    result = run_cli("worker", cwd=tmp_path)
    assert result.returncode == 1
    assert "memory://" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
