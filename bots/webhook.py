"""What every webhook handler needs: bounded JSON bodies, store calls off the event loop,
and the status codes platforms act on (4xx: don't redeliver; 5xx: redeliver).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from aiohttp import web

from store.errors import (
    StoreError,
    StoreUnavailable,
    detached,
    first_line,
    is_unavailable,
    traceback_text,
)

MAX_BODY_BYTES = 1024 * 1024  # 1 MiB, Telegram's and Meta's payloads are far smaller
MAX_JSON_DEPTH = 100  # levels of [ and {; real updates nest fewer than 10
MAX_NUMBER_DIGITS = 100  # digits in a row outside strings; ids have at most 20

# A string literal; one left open runs to the end, so every match succeeds and the scan
# stays linear (no retry from each quote inside an unterminated string).
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.?)*+(?:"|\Z)', re.DOTALL)
_LONG_NUMBER = re.compile(rb"[0-9]{%d}" % (MAX_NUMBER_DIGITS + 1))
_BRACKET = re.compile(rb"[\[\]{}]")

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


def json_limits_exceeded(body: bytes) -> str | None:
    """Why ``body`` is refused before decoding — nesting deeper than ``MAX_JSON_DEPTH`` or a
    number literal longer than ``MAX_NUMBER_DIGITS`` digits — or None.

    A scan of the raw bytes with the strings blanked out (one regex pass, no decoding):
    Python's decoder recurses once per level and converts a 5,000-digit integer only to raise.
    A body with too few brackets to nest that deep and no digit run that long anywhere (every
    real update) needs no scan: counting is a pass in C.
    """
    brackets = body.count(b"[") + body.count(b"{")
    if brackets <= MAX_JSON_DEPTH and not _LONG_NUMBER.search(body):
        return None
    outside = _JSON_STRING.sub(b'""', body)
    if _LONG_NUMBER.search(outside):
        return f"a number longer than {MAX_NUMBER_DIGITS} digits"
    depth = 0
    for match in _BRACKET.finditer(outside):
        if match.group() in b"[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return f"nested deeper than {MAX_JSON_DEPTH} levels"
        else:
            depth -= 1
    return None


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; ``web.HTTPBadRequest`` with a one-line reason otherwise
    (also for JSON beyond ``json_limits_exceeded``)."""
    too_much = json_limits_exceeded(body)
    if too_much is not None:
        raise web.HTTPBadRequest(text=f"refused JSON: {too_much}")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise web.HTTPBadRequest(text=f"malformed JSON: {reason[:200]}") from None
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
    """Run a blocking store function in a worker thread (``run_detached`` there).

    A database that cannot be reached becomes ``StoreUnavailable``; webhook handlers turn that
    into 503 so the platform redelivers and nothing is lost.
    """

    def call() -> T:
        return run_detached(fn, *args, **kwargs)

    return await asyncio.to_thread(call)


def run_detached(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` on the calling (store worker) thread, its errors made fit to
    cross to the event loop: an unreachable database becomes ``StoreUnavailable``, and any
    error leaves the thread ``detached`` (``store.errors``): its frames, and the cursors they
    held, are released on the thread that made them; an unexpected error carries its
    traceback text as a note."""
    try:
        return fn(*args, **kwargs)
    except StoreError as exc:
        error: BaseException = exc
        detached(exc)
    except Exception as exc:
        if is_unavailable(exc):
            error = StoreUnavailable(first_line(exc))
        else:
            error = exc
            exc.add_note(f"in the store's worker thread:\n{traceback_text(exc)}")
        detached(exc)
    raise error


def unavailable() -> web.Response:
    """503 for a store that is down: the platform will redeliver."""
    return error_response(503, "store unavailable, retry later")
