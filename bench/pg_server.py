"""A PostgreSQL server of the benchmarks' own, configured by ``deploy/postgresql/switchboard.conf``.

    .venv/bin/python -m bench.pg_server start      # prints the --pg-admin DSN to use
    .venv/bin/python -m bench.pg_server stop
    .venv/bin/python -m bench.pg_server status

The machine's shared server runs with its own configuration (128 MB of shared_buffers) that a
benchmark may not restart; the deploy file's settings need a restart (shared_buffers). This
starts a second cluster from the same binaries (``initdb`` once, in ``--dir``, default
``/var/tmp/switchboard-bench-pg``, kept between runs so a million-client database is built once),
listening on 127.0.0.1 ``--port`` (default 55432) only, trust authentication, with the deploy
file included as it is. Run as root it runs the server as the ``postgres`` system user.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.pgsettings import CONF

DEFAULT_DIR = Path("/var/tmp/switchboard-bench-pg")
DEFAULT_PORT = 55432


def _bin(name: str) -> str:
    """The newest installed PostgreSQL's ``name`` (Debian keeps them off the PATH)."""
    root = Path("/usr/lib/postgresql")
    versions = sorted(root.iterdir(), key=lambda p: int(p.name)) if root.is_dir() else []
    for version in reversed(versions):
        candidate = version / "bin" / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"bench.pg_server: {name} not found (is PostgreSQL installed?)")
    return found


def _as_owner(command: list[str]) -> list[str]:
    """``command`` run as the ``postgres`` user when we are root (initdb refuses root)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def admin_dsn(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def start(data_dir: Path, port: int) -> None:
    data = data_dir / "data"
    if not (data / "PG_VERSION").exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(data_dir, "postgres", "postgres")
        subprocess.run(
            _as_owner(
                [_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    # The deploy file as it is, copied in (the server user may not read the repository).
    shutil.copyfile(CONF, data / "switchboard.conf")
    if os.geteuid() == 0:
        shutil.chown(data / "switchboard.conf", "postgres", "postgres")
    conf = data / "postgresql.conf"
    if "include 'switchboard.conf'" not in conf.read_text(encoding="utf-8"):
        with conf.open("a", encoding="utf-8") as out:
            out.write("\ninclude 'switchboard.conf'\n")
    status = subprocess.run(
        _as_owner([_bin("pg_ctl"), "-D", str(data), "status"]), capture_output=True
    )
    if status.returncode == 0:  # running: read the (possibly changed) deploy file again
        subprocess.run(
            _as_owner([_bin("pg_ctl"), "-D", str(data), "reload"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    else:
        options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={data}"
        subprocess.run(
            _as_owner(
                [
                    _bin("pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(data / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    print(admin_dsn(port))


def stop(data_dir: Path) -> None:
    data = data_dir / "data"
    subprocess.run(_as_owner([_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]), check=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help=f"cluster directory ({DEFAULT_DIR})"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"loopback port ({DEFAULT_PORT})"
    )
    args = parser.parse_args(argv)
    if args.action == "start":
        start(args.dir, args.port)
    elif args.action == "stop":
        stop(args.dir)
    else:
        data = args.dir / "data"
        result = subprocess.run(_as_owner([_bin("pg_ctl"), "-D", str(data), "status"]), check=False)
        sys.exit(result.returncode)


if __name__ == "__main__":
    main()
