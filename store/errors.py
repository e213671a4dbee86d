"""The store's errors: one hierarchy, one file; and ``detached``, for handing an error from a
worker thread to another thread."""

from __future__ import annotations

import traceback

import peewee

READ_ONLY = "25006"  # PostgreSQL's SQLSTATE for a write in a read-only transaction


class StoreError(Exception):
    """Base of every error the store raises on purpose."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or answered with a connection-level error."""


class StoreRejected(StoreError):
    """The database refused an item's data (a constraint, an encoding, a value out of range):
    trying the same item again fails again. ``detail`` is the traceback text of the refusal,
    captured on the thread that ran the statement."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class MigrationRequired(StoreError):
    """The schema is older than the code: run ``switchboard migrate``."""


class NotFound(StoreError):
    """A named thing (client, list, label, operator, bot) does not exist."""


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message, or its type's name when it has none."""
    text = str(exc)
    return text.splitlines()[0] if text.strip() else type(exc).__name__


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot take this work now, not that the data is
    wrong: connection-level errors (peewee's ``OperationalError``/``InterfaceError``: down,
    locked, disk full, shut down) and PostgreSQL's read-only transaction (a standby after a
    failover: psycopg calls it an ``InternalError``). The work may succeed later as it is."""
    if isinstance(exc, (peewee.OperationalError, peewee.InterfaceError)):
        return True
    driver = exc.__cause__ or exc.__context__  # peewee keeps the driver's error here
    return READ_ONLY in (getattr(exc, "sqlstate", None), getattr(driver, "sqlstate", None))


def traceback_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def detached(exc: BaseException) -> None:
    """Release, on this thread, everything ``exc`` holds through its tracebacks.

    A database error's traceback keeps the failed statement's frames alive, and with them the
    cursor (SQLite: a prepared statement of this thread's connection). Freed later on another
    thread, that cursor waits for this connection's lock there — the event loop stalled up to
    the 5 s busy timeout behind a failed batch. So before an error leaves a worker thread, the
    frames of every traceback in its chain (causes, contexts, and the driver errors peewee
    keeps in ``args``) are cleared here, and ``__traceback__``/``__cause__``/``__context__``
    dropped: the error that crosses is its type and message only. Callers that want the
    traceback text take ``traceback_text(exc)`` first.
    """
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        error = stack.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        linked = (error.__cause__, error.__context__, *error.args)
        stack.extend(x for x in linked if isinstance(x, BaseException))
        if error.__traceback__ is not None:
            traceback.clear_frames(error.__traceback__)
            error.__traceback__ = None
        error.__cause__ = None
        error.__context__ = None
        error.__suppress_context__ = True
