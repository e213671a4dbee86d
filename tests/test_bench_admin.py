"""A small run of bench/admin.py on SQLite: every command answers through the command layer,
and the select-all path (/clients, Select, Select all, Actions, read, Confirm) marks every
client read."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.admin import main
from store.db import make_database


def test_small_run_selects_all_and_marks_them_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "admin.db"
    main(["--clients=300", "--db=sqlite", "--repeat=1", "--select-all", f"--sqlite-path={path}"])
    out = capsys.readouterr().out
    assert "/clients search:анна" in out and "/bulk read tab:all (count)" in out
    assert "Done: read on 300 clients" in out
    db = make_database(f"sqlite:///{path}")
    with db.connection_context():
        assert db.execute_sql("SELECT count(*) FROM client_unread").fetchone()[0] == 0
