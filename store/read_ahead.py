"""Running a generator one step ahead in a thread, so reading and parsing a file overlaps
with writing what was already parsed (``store.importer``).

The database drivers release the GIL while a statement runs; a second thread parsing the
next batch meanwhile uses the other core (and on a busy machine gets its own share of CPU).
An error in the generator is raised in the consumer, at the item where it happened.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Final, TypeVar

T = TypeVar("T")

AHEAD: Final = 2  # items parsed ahead: bounds the memory to a few batches
_DONE: Final = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterable[T], ahead: int = AHEAD) -> Iterator[T]:
    """The items of ``items``, produced by a worker thread up to ``ahead`` in advance."""
    handoff: queue.Queue[object] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            offer(_Failed(exc))
            return
        offer(_DONE)

    worker = threading.Thread(target=produce, name="read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()  # the consumer stopped (done, or an error): the worker stops too
        worker.join()
