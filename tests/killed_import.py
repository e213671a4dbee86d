"""An import SIGKILLed midway, in a child process: what a crash leaves in the store.

The child imports the CSV file in batches of 50 and kills itself after its ``after_batches``-th
batch (committed: the progress callback runs after each batch's transaction).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT, cli_env

KILLED_IMPORT = """
import io, os, signal, sys, zoneinfo
from store.db import open_database
from store.importer import import_csv
open_database(sys.argv[1]).connect()
after, defer = int(sys.argv[3]), {"defer": True, "auto": None}[sys.argv[4]]
batches = 0
def progress(rows):
    global batches
    batches += 1
    if batches == after:
        os.kill(os.getpid(), signal.SIGKILL)
text = open(sys.argv[2], encoding="utf-8").read()
import_csv(io.StringIO(text, newline=""), zoneinfo.ZoneInfo("Europe/Moscow"),
           batch_size=50, progress=progress, defer_indexes=defer)
"""


def killed_import(url: str, source: Path, *, after_batches: int, defer_indexes: bool) -> None:
    """Runs the import of ``source`` into ``url`` in a child process killed after its
    ``after_batches``-th batch, and checks that it was killed. ``defer_indexes``: the import
    defers the secondary indexes; otherwise it decides as ``import_csv`` does by default."""
    argv = [url, str(source), str(after_batches), "defer" if defer_indexes else "auto"]
    child = subprocess.run(
        [sys.executable, "-c", KILLED_IMPORT, *argv],
        cwd=REPO_ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
