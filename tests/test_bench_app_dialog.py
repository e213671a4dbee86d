"""A small run of bench/app_dialog.py on SQLite: it loads, builds the long dialog, times every
call and finds a full page before the dialog's middle."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.app_dialog import main


def test_small_run_prints_every_call(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(
        [
            "--clients=300",
            "--dialog=120",
            "--repeat=2",
            "--db=sqlite",
            f"--sqlite-path={tmp_path / 'd.db'}",
        ]
    )
    out = capsys.readouterr().out
    assert "one dialog of 120 messages" in out
    for call in ("card", "page", "page_deep", "poll"):
        assert f"{call} {{'p50'" in out
