"""This process's worker lease: a heartbeat thread renewing ``store.leases`` every few seconds.

The senders of a process claim rows under its ``worker_id``; when the process dies its lease
runs out after ``delivery.lease_s`` and any dispatcher gives those rows to other workers
(``store.leases.recover``). The lease is renewed every ``lease_s / 4``. A process that could
not renew it for ``lease_s / 2`` (its database was unreachable) no longer counts on it:
``held()`` is False and its senders put a claimed row back instead of sending it, because a
dispatcher may be about to give that row to someone else.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time

from store import leases
from store.db import database_proxy

log = logging.getLogger("switchboard.delivery")
# A row claimed while the lease was not held goes back to the outbox due this much later (s).
LEASE_RETRY_S = 0.5


def new_worker_id() -> str:
    """``host:pid:random``: unique per process start, readable in ``Message.claimed_by``."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


class Lease:
    """The lease of one sending process; ``start`` registers it before any row is claimed."""

    def __init__(self, lease_s: float, worker_id: str | None = None, threads: int = 0) -> None:
        self.lease_s = lease_s
        self.threads = threads
        self.worker_id = worker_id or new_worker_id()
        self._last_renewal = float("-inf")  # time.monotonic() of the last successful renewal
        self._warned_at = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def held(self) -> bool:
        """Whether the lease was renewed within ``lease_s / 2`` seconds (the other half covers
        a send's wait for its window and its platform call)."""
        age = time.monotonic() - self._last_renewal
        if age < self.lease_s / 2:
            return True
        if self._thread is not None and time.monotonic() - self._warned_at > self.lease_s:
            self._warned_at = time.monotonic()
            log.warning(
                "worker lease %s not renewed for %.1f s: claimed messages go back to the outbox",
                self.worker_id,
                age,
            )
        return False

    def start(self) -> None:
        renewed_at = time.monotonic()
        self._register()
        self._last_renewal = renewed_at
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="worker-lease", daemon=True)
        self._thread.start()

    def _register(self) -> None:
        pid = os.getpid()
        leases.register(self.worker_id, host=socket.gethostname(), pid=pid, threads=self.threads)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.lease_s / 4):
                renewed_at = time.monotonic()
                try:
                    if not leases.renew(self.worker_id):
                        self._register()
                    self._last_renewal = renewed_at
                except Exception:  # a store outage: try again next time; held() tells senders
                    log.exception("cannot renew worker lease %s", self.worker_id)
        finally:
            if not database_proxy.is_closed():
                database_proxy.close()

    def stop(self) -> None:
        """Stop renewing (after the senders finished); the lease then simply runs out."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
