"""What every webhook handler needs: bounded JSON bodies, store calls off the event loop,
and the status codes platforms act on (4xx: don't redeliver; 5xx: redeliver).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import peewee
from aiohttp import web

from store.errors import StoreError, StoreUnavailable, detached, first_line, traceback_text

MAX_BODY_BYTES = 1024 * 1024  # 1 MiB, Telegram's and Meta's payloads are far smaller

P = ParamSpec("P")
T = TypeVar("T")


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


async def read_body(request: web.Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refusing more than ``limit`` bytes with 413 (``web.HTTPException``)."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; ``web.HTTPBadRequest`` with a one-line reason otherwise."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise web.HTTPBadRequest(text=f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return data


def secrets_match(given: str | bytes | None, expected: str | bytes) -> bool:
    """Compare a presented secret or signature with the expected one in constant time."""
    if given is None:
        return False
    a = given.encode() if isinstance(given, str) else given
    b = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(a, b)


async def store_call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking store function in a worker thread.

    A database that cannot be reached becomes ``StoreUnavailable``; webhook handlers turn that
    into 503 so the platform redelivers and nothing is lost. Any error leaves the thread
    ``detached`` (``store.errors``): its frames, and the cursors they held, are released on
    the thread that made them; an unexpected error carries its traceback text as a note.
    """

    def call() -> T:
        try:
            return fn(*args, **kwargs)
        except (peewee.OperationalError, peewee.InterfaceError) as exc:
            error: BaseException = StoreUnavailable(first_line(exc))
            detached(exc)
        except StoreError as exc:
            error = exc
            detached(exc)
        except Exception as exc:
            error = exc
            note = traceback_text(exc)
            detached(exc)
            exc.add_note(f"in the store's worker thread:\n{note}")
        raise error

    return await asyncio.to_thread(call)


def unavailable() -> web.Response:
    """503 for a store that is down: the platform will redeliver."""
    return error_response(503, "store unavailable, retry later")
