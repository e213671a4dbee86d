"""``switchboard worker``: Dramatiq worker processes for ``redis://`` mode, and their parent.

The parent process runs the dispatcher (due and stuck outbox rows -> Redis) and supervises
``processes`` children, restarting any that dies (a SIGKILLed worker is replaced within about
a second; the rows it had claimed go to the others when its lease runs out, ``lease_s``
after its last heartbeat: ``workers.lease``). Each child loads the same
configuration, opens the store and runs ``dramatiq.Worker`` with ``threads`` threads in-process
(not Dramatiq's own CLI: the actor is bound to the engine built from the configuration).
SIGTERM / SIGINT to the parent stops the children gracefully (sends in progress finish).
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.process
import signal
import threading
import time
from collections.abc import Callable

from config import Settings, load_settings, logs

log = logging.getLogger("switchboard.worker")

EngineHook = Callable[[object], None]


def _child(config_path: str | None, threads: int) -> None:
    from store.runtime import open_store
    from workers.engine import Engine

    settings = load_settings(config_path)
    # A spawned child starts with no logging set up; log as the parent (its format and level
    # come through the environment: ``commands.cli.use_log_format``).
    logs.configure(secrets=logs.secrets_of(settings))
    open_store(settings)
    engine = Engine(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    engine.warm_up()
    engine.start_workers(threads)
    log.info("worker process ready (%d threads)", threads)
    stop.wait()
    engine.stop()


def run_workers(
    settings: Settings,
    config_path: str | None,
    *,
    processes: int,
    threads: int,
    on_engine: Callable[[object], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run the dispatcher here and ``processes`` worker processes until SIGTERM / SIGINT
    (or ``stop`` is set). ``on_engine`` may register dispatcher tick hooks (jobs)."""
    from workers.engine import Engine

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    engine = Engine(settings)
    if on_engine is not None:
        on_engine(engine)
    engine.start_dispatcher()
    ctx = multiprocessing.get_context("spawn")
    children: list[multiprocessing.process.BaseProcess] = []

    def spawn() -> multiprocessing.process.BaseProcess:
        child = ctx.Process(target=_child, args=(config_path, threads), daemon=False)
        child.start()
        return child

    try:
        children = [spawn() for _ in range(processes)]
        print(
            f"switchboard worker: {processes} process(es) x {threads} thread(s) "
            f"on {settings.delivery.namespace}; pids " + " ".join(str(c.pid) for c in children),
            flush=True,
        )
        while not stop.wait(0.5):
            for i, child in enumerate(children):
                if not child.is_alive():
                    log.warning(
                        "worker process %s exited (%s); restarting", child.pid, child.exitcode
                    )
                    children[i] = spawn()
                    print(f"switchboard worker: restarted pid {children[i].pid}", flush=True)
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: graceful
        deadline = time.monotonic() + 15
        for child in children:
            child.join(max(0.1, deadline - time.monotonic()))
            if child.is_alive():
                child.kill()
        engine.stop()
