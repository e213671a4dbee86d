"""Whether this process's writes to the store are failing now, for ``/healthz``.

``ping`` proves the database answers; it does not prove writes go through (a full disk, a
constraint every insert trips, a lock never released). Every ``write_transaction`` reports
here: the store is *degraded* while the last ``FAILURES`` (3) writes failed and the latest
of them failed within ``WINDOW_S`` (60 s); one successful write clears it. Per process: each
``serve`` reports its own writes. Errors our code raises on purpose (``StoreError``: not
found, ...) are outcomes, not failures, and are not counted.
"""

from __future__ import annotations

import threading
import time

FAILURES = 3
WINDOW_S = 60.0


class WriteHealth:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streak = 0  # consecutive failed writes
        self._last_failure = 0.0  # time.monotonic() of the latest one
        self._last_error = ""

    def succeeded(self) -> None:
        if self._streak:  # read without the lock: the common case stays one comparison
            with self._lock:
                self._streak = 0

    def failed(self, error: BaseException) -> None:
        text = str(error).splitlines()[0] if str(error).strip() else type(error).__name__
        with self._lock:
            self._streak += 1
            self._last_failure = time.monotonic()
            self._last_error = f"{type(error).__name__}: {text}"[:200]

    def degraded(self, now: float | None = None) -> str | None:
        """Why writes count as failing now (one line), or None when they don't."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self._streak >= FAILURES and now - self._last_failure <= WINDOW_S:
                return f"the last {self._streak} writes failed, latest: {self._last_error}"
            return None


WRITES = WriteHealth()
