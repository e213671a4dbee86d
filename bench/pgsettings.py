"""The PostgreSQL settings of ``deploy/postgresql/switchboard.conf``, for the benchmarks.

The benchmarks run on a shared server whose configuration they may not change; they apply
the deploy file's settings to their own sessions instead (libpq ``options``), all but the
server-wide ones (``shared_buffers`` needs a restart, the checkpoint settings a reload): they
print the server's values of those. ``bench.pg_server`` runs a server with every one of them.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import peewee as pw

CONF = Path(__file__).resolve().parent.parent / "deploy" / "postgresql" / "switchboard.conf"
# Server-wide: a restart (shared_buffers) or a reload (the checkpoint settings); a session
# cannot set them.
SERVER_WIDE = ("shared_buffers", "max_wal_size", "checkpoint_timeout")


def deploy_settings() -> dict[str, str]:
    """``name -> value`` of every setting line of the deploy file, in order."""
    found: dict[str, str] = {}
    for line in CONF.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, value = line.partition("=")
            found[name.strip()] = value.strip()
    return found


def with_session_settings(url: str) -> str:
    """``url`` with the deploy file's per-session settings as libpq ``options``."""
    options = " ".join(
        f"-c {name}={value}" for name, value in deploy_settings().items() if name not in SERVER_WIDE
    )
    return f"{url}{'&' if '?' in url else '?'}options={quote(options)}"


def describe(db: pw.Database) -> str:
    """One line: the settings this connection runs with (the deploy file's, shared_buffers
    as the server has it)."""
    names = list(deploy_settings())
    values = [f"{name}={db.execute_sql(f'SHOW {name}').fetchone()[0]}" for name in names]
    return "PostgreSQL settings: " + ", ".join(values)
