"""A small run of bench/keyset.py on SQLite: it loads, counts both ways and pages both ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.keyset import main


def test_small_run_prints_every_measure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--clients=1100", "--repeat=1", "--db=sqlite", f"--sqlite-path={tmp_path / 'k.db'}"])
    out = capsys.readouterr().out
    assert "exact count '': 1,100" in out and "capped count '': 1,100" in out
    assert "tab counts, five bounded subqueries (now)" in out
    assert "page 20 after a cursor" in out and "page 200" not in out
