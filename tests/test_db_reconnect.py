"""A PostgreSQL connection the server closes (restart, failover) is reopened, not kept dead."""

from __future__ import annotations

from collections.abc import Iterator

import peewee
import psycopg
import pytest

from store.db import ping
from store.models import Bot
from tests.conftest import migrated_store


def backend_pid(database: peewee.Database) -> int:
    return int(database.execute_sql("SELECT pg_backend_pid()").fetchone()[0])


def kill(url: str, pid: int) -> None:
    """Terminate one server process, as a restart or a failover does to every connection."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.fixture
def pg(pg_url: str) -> Iterator[peewee.Database]:
    with migrated_store(pg_url) as database:
        yield database


def test_a_statement_after_the_server_closed_the_connection_runs_on_a_new_one(
    pg: peewee.Database, pg_url: str
) -> None:
    first = backend_pid(pg)
    kill(pg_url, first)
    Bot.create(name="after_failover", kind="telegram")  # would fail for good without reconnect
    assert backend_pid(pg) != first
    ping()
    assert Bot.select().where(Bot.name == "after_failover").count() == 1


def test_inside_a_transaction_the_caller_sees_the_error_and_the_next_call_recovers(
    pg: peewee.Database, pg_url: str
) -> None:
    with pytest.raises(peewee.PeeweeException), pg.atomic():
        Bot.create(name="lost", kind="telegram")
        kill(pg_url, backend_pid(pg))
        Bot.create(name="lost_too", kind="telegram")
    assert not pg.in_transaction()
    assert Bot.select().count() == 0  # the transaction's writes died with its connection
    Bot.create(name="next", kind="email")
    assert [b.name for b in Bot.select()] == ["next"]
