"""Sampling a benchmark's server with py-spy, and the top entries of what it recorded.

py-spy is one of the dev extras (``make install`` puts it into the virtualenv).
``sampling(pid, path)`` records the process while the ``with`` block runs (only samples
holding the GIL: where Python spends CPU, not where its threads wait), in py-spy's raw
format (one collapsed stack per line with its count); ``top(path)`` reads that file back as
the functions with the most samples, by their own time and by the time spent in them and
what they call.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def py_spy() -> str:
    """The py-spy executable next to this interpreter, or on the PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("py-spy is not installed: make install (the dev extras)")
    return found


@contextmanager
def sampling(pid: int, path: Path, *, append: bool = False, rate: int = 250) -> Iterator[None]:
    """Record process ``pid`` (and its threads) into ``path`` while the block runs;
    ``append`` adds the samples to those already in ``path``."""
    output = path.with_name(path.name + ".part") if append else path
    args = [py_spy(), "record", "--pid", str(pid), "--format", "raw", "--output", str(output)]
    args += ["--rate", str(rate), "--gil", "--function", "--nonblocking"]
    recorder = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        try:
            recorder.wait(30)
        except subprocess.TimeoutExpired:
            recorder.kill()
        if append and output.exists():
            with path.open("a") as whole:
                whole.write(output.read_text())
            output.unlink()


OURS = ("(bots/", "(store/", "(workers/", "(commands/web")  # our frames, by their file


def top(path: Path, entries: int = 15) -> str:
    """The ``entries`` functions with the most samples: own time, then inclusive time of
    our own functions (the frames above them are the event loop and the CLI)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        own[frames[-1]] += samples
        for frame in set(frames):
            if any(part in frame for part in OURS):
                inclusive[frame] += samples
    if not total:
        return "no samples"
    lines = [f"{total} samples holding the GIL; own time:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(entries)]
    lines.append("inclusive, our functions (the function and what it calls):")
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(entries)]
    return "\n".join(lines)
