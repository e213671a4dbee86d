"""bench/metrics_scrape.py at a tiny scale: it runs on both brokers and prints its table."""

from __future__ import annotations

import pytest

from bench.metrics_scrape import main
from tests.services import REDIS_URL, require_redis


def test_a_small_run_prints_a_row_per_broker(capsys: pytest.CaptureFixture[str]) -> None:
    require_redis()
    main(["--bots", "2", "--rows", "5", "--repeat", "2", "--redis", REDIS_URL])
    out = capsys.readouterr().out
    rows = [
        line
        for line in out.splitlines()
        if line.startswith("| memory") or line.startswith("| redis")
    ]
    assert len(rows) == 2
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert float(cells[1]) > 0 and int(cells[4]) > 1000  # ms, body bytes
