"""A small run of bench/clients.py on both databases: the generator loads through the real
migrations, and every filter of the benchmark counts the same clients through the project's
path as through its hand-written SQL (the bench stops on any difference)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import psycopg

from bench.clients import main
from tests.services import PG_ADMIN_DSN, temporary_postgres_database


def test_small_run_agrees_with_the_hand_written_sql(tmp_path: Path) -> None:
    with temporary_postgres_database():  # fails with the start hint when PostgreSQL is down
        pass
    name = f"sb_test_bench_{secrets.token_hex(4)}"
    out = tmp_path / "report.json"
    try:
        main(
            [
                "--clients=400",
                "--repeat=1",
                "--bulk-size=40",
                "--phases=queries,bulk",
                f"--sqlite-path={tmp_path / 'bench.db'}",
                f"--pg-admin={PG_ADMIN_DSN}",
                f"--pg-name={name}",
                f"--json={out}",
            ]
        )
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    reports = json.loads(out.read_text())
    assert [r["database"] for r in reports] == ["sqlite", "postgres"]
    sqlite, postgres = ({q["filter"]: q["rows"] for q in r["queries"]} for r in reports)
    assert sqlite == postgres  # the same seeded data on both
    assert sqlite["admin: everything"] == 400
    # the data is realistic enough that the searches and exclusions find someone
    for label in ("substring (Cyrillic, lower case)", "substring (Latin)", "in lists"):
        assert 0 < sqlite[label] < 400
    assert 200 < sqlite["exclude lists and labels"] < 400
    for report in reports:
        assert {a: b["clients"] for a, b in report["bulk"].items()} == {
            "label-add": 40,
            "read": 40,
            "delete": 40,
        }
