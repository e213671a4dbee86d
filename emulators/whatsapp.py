"""A stand-in for Meta's Graph API (WhatsApp Cloud API) over real HTTP, for tests and demos.

Serves ``POST /{version}/{phone_number_id}/messages``, the media endpoints
(``POST /{version}/{phone_number_id}/media``, ``GET``/``DELETE /{version}/{media_id}`` and the
download URL ``/whatsapp_business/attachments/?mid=ID``) and records every call. Like the
real API it enforces, per phone number, a throughput of ``messages_per_second`` (default 80;
error 130429) and one message per ``seconds_per_recipient`` (default 6 s) to the same
recipient (error 131056), both counted by a flood model (``emulators.flood``, ``flood=`` or
``set_flood``): ``bucket`` (token bucket, the default), ``window`` (strictly at most that many
in any 1 s, at most one per ``seconds_per_recipient`` in any such window) or ``escalating``
(``window``, and repeated refusals of a key close it for 1, 2, 4 ... s; Meta's errors carry no
retry time, so the answer stays the Cloud API error JSON). Every call records its receive time
(``Call.received``); ``accepted_sends`` lists those of the accepted messages. Scripted
numbers: ``window_closed`` (131047 for anything but a template), ``unknown_numbers``
(131026); ``fail_next`` queues any error (5xx included); ``aliases`` answers a number with
another wa_id, as WhatsApp does for some countries' numbers. A send may name its recipient by
``recipient`` (a business-scoped user id, BSUID) instead of ``to``; ``to`` wins when both are
given, and the answer's ``contacts`` then carry ``user_id`` instead of ``wa_id``.
Errors have the Cloud API's shape: ``{"error": {"message", "type", "code", "error_data":
{"messaging_product", "details"}, "fbtrace_id"}}``.

It also plays Meta's webhook side: ``post_webhook`` posts a payload signed with the app secret
(``X-Hub-Signature-256``) to the service; with ``receipts_url`` set, every accepted message is
followed by signed ``sent`` and ``delivered`` statuses.

Library use::

    async with GraphEmulator(access_token="T", app_secret="S") as graph:
        bot api_base = graph.url  # http://127.0.0.1:<free port>

Command line: ``python -m emulators.whatsapp --port 8082 [--flood window]`` (prints its URL,
runs until Ctrl-C). ``clock`` (seconds, monotonic) is injectable so tests need not wait.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from emulators import whatsapp_payloads as payloads
from emulators.faults import FaultCycle
from emulators.flood import FLOOD_MODELS, FloodGate, Limit, check_model

# Meta signs every webhook body with the app secret. Written here on its own, not imported from
# the adapter, so that the emulator checks the adapter rather than agreeing with it by construction.
SIGNATURE_HEADER = "X-Hub-Signature-256"


# emulators.faults kinds as the Cloud API answers them: HTTP status, error code.
_FAULT_ANSWERS = {
    "rate_limit": (400, 130429),
    "server_error": (500, 131000),
    "blocked": (400, 131026),
    "not_found": (400, 131026),
}


def sign(body: bytes, app_secret: str) -> str:
    """``sha256=`` and the lowercase hex HMAC-SHA256 of ``body`` keyed by ``app_secret``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


# code -> (title, details) as in Meta's error-code reference
ERRORS: dict[int, tuple[str, str]] = {
    100: ("Invalid parameter", "A parameter of the request is missing or invalid."),
    190: ("Invalid OAuth access token - Cannot parse access token", ""),
    80007: ("Rate limit issues", "The WhatsApp Business Account has reached its rate limit."),
    130429: ("Rate limit hit", "Cloud API message throughput has been reached."),
    131000: ("Something went wrong", "Message failed to send because of an unknown error."),
    131016: ("Service unavailable", "A service is temporarily unavailable."),
    131026: (
        "Message Undeliverable",
        "Unable to deliver message: the recipient is not a WhatsApp user.",
    ),
    131047: (
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    131048: (
        "Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be "
        "sent from this phone number.",
    ),
    131056: (
        "(Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from the sender phone number to the same recipient phone "
        "number in a short period of time.",
    ),
}


def error_body(code: int, message: str | None = None, details: str | None = None) -> dict[str, Any]:
    """The Cloud API's error JSON for ``code``."""
    title, default_details = ERRORS.get(code, ("Unknown error", ""))
    return {
        "error": {
            "message": f"(#{code}) {message or title}",
            "type": "OAuthException",
            "code": code,
            "error_data": {
                "messaging_product": "whatsapp",
                "details": details if details is not None else default_details,
            },
            "fbtrace_id": "AemulatorTrace",
        }
    }


@dataclass(frozen=True, slots=True)
class Call:
    """One request the emulator answered."""

    method: str
    path: str
    body: dict[str, Any] | None
    status: int
    response: dict[str, Any]
    received: float = 0.0  # the emulator's clock (s) when the request arrived


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One accepted ``/messages`` request: ``payload`` is the JSON body as pywa sent it."""

    wamid: str
    phone_number_id: str
    to: str
    type: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredMedia:
    media_id: str
    data: bytes
    mime_type: str
    filename: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(slots=True)
class _Failure:
    status: int
    code: int
    message: str | None = None


@dataclass
class GraphEmulator:
    """The emulated Graph API; an async context manager serving on ``host:port`` (0 = free)."""

    access_token: str | None = None  # None: any bearer token is accepted
    app_secret: str = "emulator-app-secret"  # noqa: S105 (a test double's default)
    messages_per_second: float = 80.0
    seconds_per_recipient: float = 6.0
    host: str = "127.0.0.1"
    port: int = 0
    clock: Callable[[], float] = time.monotonic
    receipts_url: str | None = None
    calls: list[Call] = field(default_factory=list)
    sent: list[SentMessage] = field(default_factory=list)
    media: dict[str, StoredMedia] = field(default_factory=dict)
    window_closed: set[str] = field(default_factory=set)  # wa_ids (digits)
    unknown_numbers: set[str] = field(default_factory=set)
    throughput: dict[str, float] = field(default_factory=dict)  # per phone_number_id override
    webhook_results: list[int] = field(default_factory=list)  # statuses of posted webhooks
    # digits as sent -> the wa_id WhatsApp answers with (another form of the same number)
    aliases: dict[str, str] = field(default_factory=dict)
    flood: str = "bucket"  # how sends are counted: bucket, window, escalating (emulators.flood)

    def __post_init__(self) -> None:
        self._failures: deque[_Failure] = deque()
        self.faults = FaultCycle()  # every n-th send fails (set_faults; emulators.faults)
        self._gate = FloodGate(check_model(self.flood))
        self._media_ids = itertools.count(1_000_000_000_001)
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    # ---- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> GraphEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_post("/{version}/{phone_number_id}/messages", self._messages)
        app.router.add_post("/{version}/{phone_number_id}/media", self._upload)
        app.router.add_get("/whatsapp_business/attachments/", self._download)
        app.router.add_get("/{version}/{media_id}", self._media_info)
        app.router.add_delete("/{version}/{media_id}", self._media_delete)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.url = f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- scripting -------------------------------------------------------------------
    def fail_next(self, code: int = 131000, *, status: int = 400, count: int = 1) -> None:
        """Answer the next ``count`` message sends with error ``code`` and HTTP ``status``."""
        for _ in range(count):
            self._failures.append(_Failure(status, code))

    def set_faults(self, every: int) -> None:
        """Fail every ``every``-th message send, by ``emulators.faults`` kind in turn: 130429,
        131026 (blocked), 500 (131000), 131026 (no such user); ``every=0``: no more faults."""
        self.faults = FaultCycle(every)

    def add_media(self, data: bytes, mime_type: str, filename: str | None = None) -> str:
        """Store a file as if a user had sent it; returns its media id (for inbound payloads)."""
        media_id = str(next(self._media_ids))
        self.media[media_id] = StoredMedia(media_id, data, mime_type, filename)
        return media_id

    def reset_limits(self) -> None:
        self._gate.reset()

    def set_flood(self, model: str) -> None:
        """Count sends by ``model`` from now on (the counts so far are forgotten)."""
        self._gate.set_model(model)
        self.flood = model

    def accepted_sends(self, phone_number_id: str | None = None) -> list[float]:
        """Receive times (the emulator's clock, s) of the accepted message sends, of one
        number or all; for ``emulators.flood.max_in_window``."""
        return [
            c.received
            for c in self.calls
            if c.status == 200
            and c.method == "POST"
            and c.path.endswith("/messages")
            and phone_number_id in (None, c.path.split("/")[-2])
        ]

    # ---- webhooks to the service ----------------------------------------------------
    async def post_webhook(
        self,
        url: str,
        payload: dict[str, Any] | bytes,
        *,
        signature: str | bool | None = True,
    ) -> tuple[int, str]:
        """POST ``payload`` to ``url`` as Meta does. ``signature``: True signs with the app
        secret, a string is sent as the header as is, False/None sends no header."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature is True:
            headers[SIGNATURE_HEADER] = sign(body, self.app_secret)
        elif isinstance(signature, str):
            headers[SIGNATURE_HEADER] = signature
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        async with self._http.post(url, data=body, headers=headers) as response:
            text = await response.text()
            self.webhook_results.append(response.status)
            return response.status, text

    async def send_receipts(
        self, url: str, phone_number_id: str, wamid: str, to: str, states: tuple[str, ...]
    ) -> None:
        """Post one signed status webhook per state (``sent``, ``delivered``, ``read``)."""
        for state in states:
            body = payloads.envelope(phone_number_id, statuses=[payloads.status(wamid, state, to)])
            await self.post_webhook(url, body)

    # ---- handlers --------------------------------------------------------------------
    def _record(
        self,
        request: web.Request,
        body: dict[str, Any] | None,
        status: int,
        data: dict[str, Any],
        received: float = 0.0,
    ) -> web.Response:
        self.calls.append(Call(request.method, request.path, body, status, data, received))
        return web.json_response(data, status=status)

    def _authorized(self, request: web.Request) -> bool:
        if self.access_token is None:
            return request.headers.get("Authorization", "").startswith("Bearer ")
        return request.headers.get("Authorization") == f"Bearer {self.access_token}"

    async def _messages(self, request: web.Request) -> web.Response:
        received = self.clock()
        phone_id = request.match_info["phone_number_id"]
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return self._record(request, None, 400, error_body(100, details="malformed JSON"))
        if not isinstance(body, dict):
            return self._record(request, None, 400, error_body(100))
        if not self._authorized(request):
            return self._record(request, body, 401, error_body(190))
        if self._failures:
            failure = self._failures.popleft()
            return self._record(request, body, failure.status, error_body(failure.code))
        fault = self.faults.next_fault()
        if fault is not None:
            status, code = _FAULT_ANSWERS[fault]
            return self._record(request, body, status, error_body(code))
        kind = body.get("type", "text")
        # ``to`` (a phone) wins over ``recipient`` (a business-scoped user id), as on Meta
        to = str(body.get("to") or "").lstrip("+") or str(body.get("recipient") or "")
        by_bsuid = not body.get("to") and bool(body.get("recipient"))
        if body.get("messaging_product") != "whatsapp" or not to or kind not in body:
            detail = (
                "messaging_product, to (or recipient) and the object of the message type are "
                "required"
            )
            return self._record(request, body, 400, error_body(100, details=detail))
        if to in self.unknown_numbers:
            return self._record(request, body, 400, error_body(131026))
        if to in self.window_closed and kind != "template":
            return self._record(request, body, 400, error_body(131047))
        refusal = self._flood_refusal(phone_id, to, received)
        if refusal is not None:
            return self._record(request, body, 400, error_body(refusal), received)
        wamid = payloads.new_wamid()
        self.sent.append(SentMessage(wamid, phone_id, to, kind, body))
        message: dict[str, Any] = {"id": wamid}
        if kind == "template":
            message["message_status"] = "accepted"
        data = {
            "messaging_product": "whatsapp",
            "contacts": [
                {"input": to, "user_id": to}
                if by_bsuid
                else {"input": str(body.get("to")), "wa_id": self.aliases.get(to, to)}
            ],
            "messages": [message],
        }
        if self.receipts_url:
            task = asyncio.create_task(
                self.send_receipts(
                    self.receipts_url,
                    phone_id,
                    wamid,
                    self.aliases.get(to, to),
                    ("sent", "delivered"),
                )
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return self._record(request, body, 200, data, received)

    def _flood_refusal(self, phone_id: str, to: str, now: float) -> int | None:
        """130429 (the number's throughput) or 131056 (the pair limit) for a send at ``now``,
        or None when it passes both, and then it is counted against both."""
        rate = self.throughput.get(phone_id, self.messages_per_second)
        number = (phone_id, Limit.per_second(rate))
        pair = ((phone_id, to), Limit(1, self.seconds_per_recipient))
        if self._gate.check([number], now) is not None:
            return 130429
        if self._gate.check([pair], now) is not None:
            return 131056
        self._gate.take([number, pair], now)
        return None

    async def _upload(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._record(request, None, 401, error_body(190))
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField) or form.get("messaging_product") != "whatsapp":
            detail = "file and messaging_product=whatsapp are required"
            return self._record(request, None, 400, error_body(100, details=detail))
        mime = str(form.get("type") or upload.content_type)
        media_id = self.add_media(upload.file.read(), mime, upload.filename)
        info = {"type": mime, "filename": upload.filename}
        return self._record(request, info, 200, {"id": media_id})

    async def _media_info(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._record(request, None, 401, error_body(190))
        media = self.media.get(request.match_info["media_id"])
        if media is None:
            return self._record(request, None, 404, error_body(100, details="no such media"))
        data = {
            "messaging_product": "whatsapp",
            "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/"
            f"?mid={media.media_id}&ext=1&hash=emulator",
            "mime_type": media.mime_type,
            "sha256": media.sha256,
            "file_size": len(media.data),
            "id": media.media_id,
        }
        return self._record(request, None, 200, data)

    async def _media_delete(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._record(request, None, 401, error_body(190))
        found = self.media.pop(request.match_info["media_id"], None)
        if found is None:
            return self._record(request, None, 404, error_body(100, details="no such media"))
        return self._record(request, None, 200, {"success": True})

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return self._record(request, None, 401, error_body(190))
        media = self.media.get(request.query.get("mid", ""))
        if media is None:
            return self._record(request, None, 404, error_body(100, details="no such media"))
        self.calls.append(Call(request.method, request.path, None, 200, {"bytes": len(media.data)}))
        return web.Response(body=media.data, content_type=media.mime_type.split(";")[0])


async def _serve(args: argparse.Namespace) -> None:
    graph = GraphEmulator(
        access_token=args.access_token,
        app_secret=args.app_secret,
        messages_per_second=args.messages_per_second,
        seconds_per_recipient=args.seconds_per_recipient,
        port=args.port,
        receipts_url=args.receipts_url,
        flood=args.flood,
    )
    async with graph:
        print(f"Graph API emulator on {graph.url}", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--access-token", default=None, help="required bearer token (any)")
    parser.add_argument("--app-secret", default="emulator-app-secret")
    parser.add_argument("--messages-per-second", type=float, default=80.0)
    parser.add_argument("--seconds-per-recipient", type=float, default=6.0)
    parser.add_argument(
        "--flood", choices=FLOOD_MODELS, default="bucket", help="how sends are counted"
    )
    parser.add_argument("--receipts-url", default=None, help="post sent/delivered webhooks here")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
