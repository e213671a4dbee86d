"""A small run of bench/app.py: it seeds the demo's data, signs in through Chromium and prints
every figure (no timing is asserted: the figures go to docs/benchmarks.md)."""

from __future__ import annotations

import re

import pytest

from bench.app import main


def test_small_run_prints_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--clients=20", "--runs=1"])
    out = capsys.readouterr().out
    assert re.search(r"Mini App first screen: 20 clients, \d+ messages", out), out
    for case in ("browser cache kept", "browser cache cleared"):
        assert re.search(rf"{case} +median +[\d.]+ ms .* \(1 runs\)", out), out
    assert "target p95 ≤ 1000 ms:" in out
