"""Real services for tests: a throwaway PostgreSQL database and a private Redis namespace.

When a service is down the test fails (never skips) with the command that starts it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
import redis

PG_ADMIN_DSN = os.environ.get(
    "SWITCHBOARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("SWITCHBOARD_TEST_REDIS", "redis://127.0.0.1:6379/0")
PG_START_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REDIS_START_HINT = (
    'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'
)


def _pg_base() -> str:
    return PG_ADMIN_DSN.rsplit("/", 1)[0]


@contextmanager
def temporary_postgres_database() -> Iterator[str]:
    """Create ``sb_test_<random>``, yield its URL, drop it afterwards."""
    name = f"sb_test_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN_DSN} ({str(exc).strip().splitlines()[0]}). "
            f"Start it with: {PG_START_HINT}",
            pytrace=False,
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{_pg_base()}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def require_redis(url: str = REDIS_URL) -> redis.Redis:
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is not reachable at {url} ({exc}). Start it with: {REDIS_START_HINT}",
            pytrace=False,
        )
    return client


@contextmanager
def redis_namespace(url: str = REDIS_URL) -> Iterator[str]:
    """A unique key prefix for one test; every key under it is deleted afterwards."""
    client = require_redis(url)
    prefix = f"sbtest:{secrets.token_hex(6)}"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
