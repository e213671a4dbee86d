"""Catching the SQL statements peewee runs, to prove a code path's statement count or that a
path ran no query at all."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def captured_statements() -> Iterator[list[str]]:
    """Yield a list that fills with the SQL text of every statement peewee executes."""
    seen: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if isinstance(record.msg, tuple):
                seen.append(str(record.msg[0]))

    logger = logging.getLogger("peewee")
    handler, level = Catch(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
