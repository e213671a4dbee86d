"""bench/ops_page.py at a tiny scale: it fills the store, loads every page on both brokers
(each load asserts 200) and prints its table."""

from __future__ import annotations

import pytest

from bench.ops_page import main
from store.db import database_proxy
from tests.services import REDIS_URL, require_redis


def test_a_small_run_prints_a_row_per_broker_and_page(capsys: pytest.CaptureFixture[str]) -> None:
    require_redis()
    try:
        main(["--bots", "2", "--rows", "40", "--repeat", "1", "--redis", REDIS_URL])
    finally:
        database_proxy.initialize(None)  # the bench bound its own store
    out = capsys.readouterr().out
    assert "SQLite, 2 bots, 40 outbox rows" in out
    rows = [line for line in out.splitlines() if line.startswith(("| memory", "| redis"))]
    assert [r.split("|")[2].strip() for r in rows] == [
        "page",
        "live fragment",
        "filtered errors",
    ] * 2
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert float(cells[2]) > 0 and int(cells[5]) > 1000  # ms, body bytes
