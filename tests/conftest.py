"""Shared fixtures: a migrated store on SQLite and on the real PostgreSQL, the CLI runner."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest

from store.db import database_proxy, open_database
from store.migrate import migrate
from tests.services import temporary_postgres_database

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, then a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        with temporary_postgres_database() as url:
            yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    with temporary_postgres_database() as url:
        yield url


@contextlib.contextmanager
def migrated_store(url: str) -> Iterator[peewee.Database]:
    """A migrated store at ``url`` bound to every model; closed and unbound afterwards."""
    database = open_database(url)
    database.connect()
    migrate(database)
    try:
        yield database
    finally:
        database.close()
        database_proxy.initialize(None)


@pytest.fixture
def db(db_url: str) -> Iterator[peewee.Database]:
    """A migrated store bound to every model, on each database in turn."""
    with migrated_store(db_url) as database:
        yield database


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[peewee.Database]:
    """A migrated store on a SQLite file only."""
    with migrated_store(f"sqlite:///{tmp_path / 'store.db'}") as database:
        yield database


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[peewee.Database]:
    """A migrated store on a throwaway PostgreSQL database only."""
    with migrated_store(pg_url) as database:
        yield database


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a ``switchboard`` subprocess: this checkout's code, none of the
    caller's ``SWITCHBOARD_*`` settings, then ``env``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    full_env["PYTHONPATH"] = str(REPO_ROOT)
    full_env.update(env or {})
    return full_env


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``switchboard ARGS`` as a user would, in ``cwd``, with this checkout's code."""
    return subprocess.run(
        [sys.executable, "-m", "commands", *args],
        cwd=cwd,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
