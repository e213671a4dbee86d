"""Catching the SQL statements peewee runs, to prove a code path's statement count or that a
path ran no query at all."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

Item = TypeVar("Item")


@contextmanager
def _caught(item: Callable[[tuple[Any, ...]], Item]) -> Iterator[list[Item]]:
    """Yield a list that fills with ``item(msg)`` of every statement peewee logs (its log
    record's message is the tuple (sql, params))."""
    seen: list[Item] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if isinstance(record.msg, tuple):
                seen.append(item(record.msg))

    logger = logging.getLogger("peewee")
    handler, level = Catch(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextmanager
def captured_statements() -> Iterator[list[str]]:
    """Yield a list that fills with the SQL text of every statement peewee executes."""
    with _caught(lambda msg: str(msg[0])) as seen:
        yield seen


@contextmanager
def captured_queries() -> Iterator[list[tuple[str, Any]]]:
    """Yield a list that fills with (SQL text, parameters) of every statement peewee executes."""
    with _caught(lambda msg: (str(msg[0]), msg[1])) as seen:
        yield seen
