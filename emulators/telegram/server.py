"""The emulator itself: the HTTP server, its bots, the recorded calls and the scripting API.

See the package docstring (``emulators.telegram``) for how tests and demos use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from emulators.faults import FaultCycle
from emulators.flood import check_model
from emulators.telegram import business, inspect
from emulators.telegram.business import BusinessChat, BusinessConnectionState
from emulators.telegram.delivery import Delivery, Pusher
from emulators.telegram.files import FileStore
from emulators.telegram.limits import FloodLimits
from emulators.telegram.messages import FLOODED_METHODS
from emulators.telegram.methods import METHODS
from emulators.telegram.model import (
    ApiError,
    BotState,
    Call,
    GroupState,
    SentMessage,
    StoredFile,
    UserState,
)
from emulators.telegram.params import Params, read_params
from emulators.telegram.users import ScriptedUser

TOKEN_SHAPE = re.compile(r"\d+:[\w-]+")


@dataclass(frozen=True, slots=True)
class _Failure:
    token: str | None
    method: str | None  # lower-case method name, None: any
    status: int
    description: str
    network: bool
    retry_after: int | None

    def matches(self, token: str, method: str) -> bool:
        return (self.token is None or self.token == token) and (
            self.method is None or self.method == method
        )


# emulators.faults kinds as Telegram answers them: status, description, retry_after (s).
_FAULT_ANSWERS: dict[str, tuple[int, str, int | None]] = {
    "rate_limit": (429, "Too Many Requests: retry after 2", 2),
    "server_error": (502, "Bad Gateway", None),
    "blocked": (403, "Forbidden: bot was blocked by the user", None),
    "not_found": (400, "Bad Request: chat not found", None),
}


class TelegramEmulator:
    """An emulated Bot API server on ``host:port`` (port 0: a free one); see the package doc.

    ``accept_unknown_chats``: a send to a positive chat id nobody scripted creates that user
    instead of answering 400 chat not found (broadcast benchmarks with seeded clients).
    ``fetch_urls``: sending a photo/document by URL downloads it (failure: 400), as Telegram
    does; with False the URL is recorded and an empty file stored. ``clock`` (monotonic
    seconds) drives the flood limits; ``limits=False`` switches them off; ``flood`` picks how
    they count (``emulators.flood``: bucket, window, escalating; ``set_flood`` switches at run
    time). ``any_token``: a
    request with an unknown token of the right shape (``123:abc``) creates that bot instead
    of answering 401 (the demo).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Iterable[str] = (),
        messages_per_second: float = 30.0,
        chat_messages_per_second: float = 1.0,
        chat_burst: float = 3.0,
        group_messages_per_minute: float = 20.0,
        limits: bool = True,
        clock: Callable[[], float] = time.monotonic,
        accept_unknown_chats: bool = False,
        fetch_urls: bool = True,
        redeliver_after_s: float = 1.0,
        webhook_timeout_s: float = 10.0,
        record_calls: bool = True,
        any_token: bool = False,
        flood: str = "bucket",
    ) -> None:
        self.host = host
        self.port = port
        self.limits = FloodLimits(
            clock,
            messages_per_second,
            chat_messages_per_second,
            chat_burst,
            group_messages_per_minute,
            enabled=limits,
            model=check_model(flood),
        )
        self.clock = clock
        self.accept_unknown_chats = accept_unknown_chats
        self.files = FileStore(fetch_urls)
        self.record_calls = record_calls
        self.any_token = any_token
        self.bots: dict[str, BotState] = {}
        self.calls: list[Call] = []
        self.deliveries: list[Delivery] = []
        self.never_existed: set[int] = set()
        self.closing = asyncio.Event()
        self.base_url = ""
        self._pusher = Pusher(self, redeliver_after_s, webhook_timeout_s)
        self._failures: list[_Failure] = []
        self.faults: dict[str, FaultCycle] = {}  # token -> its send faults (set_faults)
        self._changed = asyncio.Event()
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        for token in tokens:
            self.bot(token)

    # ---- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> TelegramEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._download)
        app.router.add_get(inspect.CHAT_MESSAGES, self._inspect)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.base_url = f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        self.closing.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._pusher.close()
        await self.files.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return self.base_url

    # ---- scripting: bots, users, chats ------------------------------------------------
    def bot(
        self, token: str, *, username: str | None = None, first_name: str = "Emulated bot"
    ) -> BotState:
        """The bot with ``token``, created on first use (requests with other tokens: 401)."""
        state = self.bots.get(token)
        if state is None:
            prefix = token.split(":", 1)[0]
            bot_id = int(prefix) if prefix.isdigit() else 1_000_000 + len(self.bots)
            state = BotState(token, bot_id, username or f"emulated_{bot_id}_bot", first_name)
            self.bots[token] = state
        return state

    def user(
        self, token: str, user_id: int, first_name: str | None = None, **fields: Any
    ) -> ScriptedUser:
        """The scripted user ``user_id`` as bot ``token`` sees them, created on first use.

        ``fields``: ``last_name``, ``username``, ``language_code``, ``blocked``, ``deactivated``
        (set or update them; ``blocked=True`` here sends no update, ``ScriptedUser.block()``
        does)."""
        bot = self.bot(token)
        state = bot.users.get(user_id)
        if state is None:
            state = UserState(user_id, first_name or f"User{user_id}")
            bot.users[user_id] = state
        elif first_name is not None:
            state.first_name = first_name
        for key, value in fields.items():
            if not hasattr(state, key):
                raise TypeError(f"unknown user field {key!r}")
            setattr(state, key, value)
        return ScriptedUser(self, bot, state)

    def group(
        self, token: str, chat_id: int, title: str = "Group", *, kind: str = "group"
    ) -> GroupState:
        """A group chat (negative ``chat_id``) the bot is in: 20 messages a minute. ``kind``:
        ``group``, ``supergroup`` or ``channel`` (join requests need one of the last two)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        return self.bot(token).groups.setdefault(chat_id, GroupState(chat_id, title, kind))

    # ---- scripting: Telegram Business (emulators.telegram.business) -------------------
    async def connect_business(
        self, token: str, owner_id: int, first_name: str = "Owner", **fields: Any
    ) -> BusinessConnectionState:
        """A business account (owner ``owner_id``) connects bot ``token``: the bot gets a
        ``business_connection``. ``fields``: ``can_reply``, ``enabled``, ``connection_id``,
        and the owner's ``last_name``/``username``."""
        return await business.connect(self, token, owner_id, first_name, **fields)

    async def change_business(
        self,
        token: str,
        connection_id: str,
        *,
        enabled: bool | None = None,
        can_reply: bool | None = None,
    ) -> BusinessConnectionState:
        """The owner disables / enables the bot or changes its right to reply."""
        return await business.change(
            self, token, connection_id, enabled=enabled, can_reply=can_reply
        )

    def business_chat(
        self, token: str, connection_id: str, user_id: int, first_name: str, **fields: Any
    ) -> BusinessChat:
        """The private chat of user ``user_id`` with the owner of ``connection_id``."""
        bot = self.bot(token)
        connection = business.connections(bot)[connection_id]
        return BusinessChat(self, bot, connection, UserState(user_id, first_name, **fields))

    # ---- scripting: failures ----------------------------------------------------------
    def fail_next(
        self,
        method: str | None = None,
        *,
        token: str | None = None,
        status: int = 500,
        description: str | None = None,
        times: int = 1,
        network: bool = False,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (any when None) of bot ``token`` (any
        when None) with HTTP ``status`` and ``description``, or drop the connection without an
        answer (``network=True``)."""
        if description is None:
            description = {429: "Too Many Requests: retry after 5", 502: "Bad Gateway"}.get(
                status, "Internal Server Error"
            )
        if status == 429 and retry_after is None:
            retry_after = 5
        failure = _Failure(
            token, method.lower() if method else None, status, description, network, retry_after
        )
        self._failures.extend([failure] * times)

    def set_faults(self, token: str, every: int) -> None:
        """Fail every ``every``-th send (sendMessage/Photo/Document) of bot ``token``, by
        ``emulators.faults`` kind in turn: 429, 403 blocked, 502, 400 chat not found
        (``every=0``: no more faults)."""
        self.faults[token] = FaultCycle(every)

    # ---- queries ----------------------------------------------------------------------
    def sent(self, token: str | None = None, chat_id: int | None = None) -> list[SentMessage]:
        """The messages the bot(s) sent, oldest first (deleted ones too: ``deleted``)."""
        bots = [self.bots[token]] if token is not None else list(self.bots.values())
        return [m for bot in bots for m in bot.outgoing if chat_id is None or m.chat_id == chat_id]

    @property
    def flood(self) -> str:
        """The flood model counting sends: bucket, window or escalating."""
        return self.limits.model

    def set_flood(self, model: str) -> None:
        """Count sends by ``model`` from now on (the counts so far are forgotten)."""
        self.limits.set_model(check_model(model))

    def accepted_sends(self, token: str | None = None) -> list[float]:
        """Receive times (the emulator's clock, s) of the sends the flood limits admitted, of
        bot ``token`` or all; for ``emulators.flood.max_in_window``. Needs ``record_calls``."""
        return [
            c.received
            for c in self.calls
            if c.status == 200 and c.method.lower() in FLOODED_METHODS and token in (None, c.token)
        ]

    def calls_of(self, method: str, token: str | None = None) -> list[Call]:
        """The recorded calls of ``method`` (case-insensitive)."""
        name = method.lower()
        return [c for c in self.calls if c.method.lower() == name and token in (None, c.token)]

    def notify(self) -> None:
        """Wake everyone waiting for a change (``wait_for``, long polls)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], Any], timeout_s: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy and return its value; ``TimeoutError`` with
        a clear message after ``timeout_s`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not (value := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout_s:g} s")
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=min(remaining, 0.05))
        return value

    async def wait_sent(
        self,
        n: int,
        timeout_s: float = 5.0,
        token: str | None = None,
        chat_id: int | None = None,
    ) -> list[SentMessage]:
        """Wait until at least ``n`` messages were sent (by ``token``, to ``chat_id``)."""
        try:
            return list(
                await self.wait_for(
                    lambda: (s := self.sent(token, chat_id)) and len(s) >= n and s, timeout_s
                )
            )
        except TimeoutError:
            have = len(self.sent(token, chat_id))
            raise TimeoutError(
                f"expected {n} sent messages within {timeout_s:g} s, got {have}"
            ) from None

    async def press(
        self, token: str, user_id: int, message: SentMessage | int, callback_data: str
    ) -> dict[str, Any]:
        """User ``user_id`` presses the button with ``callback_data`` of a bot message."""
        return await self.user(token, user_id).press(message, callback_data)

    # ---- updates ------------------------------------------------------------------------
    async def inject(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        """Queue an update (``body`` without ``update_id``) and, with a webhook set, wait for
        its first delivery attempt. Returns the update as delivered."""
        bot = self.bot(token)
        update = {"update_id": next(bot.update_ids), **body}
        bot.pending.append(update)
        bot.updates_changed.set()
        bot.updates_changed = asyncio.Event()
        self.notify()
        if bot.webhook is not None:
            await self._pusher.push(bot)
        return update

    def schedule_push(self, bot: BotState) -> None:
        task = asyncio.create_task(self._pusher.push(bot))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def next_callback_id(self) -> str:
        return str(next(self._callback_ids))

    # ---- files ----------------------------------------------------------------------------
    def add_file(
        self,
        token: str,
        data: bytes,
        kind: str = "document",
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        """Store a file for bot ``token`` (``kind``: photo, document, profile)."""
        return self.files.add(self.bot(token), data, kind, file_name=file_name, mime_type=mime_type)

    async def input_file(self, bot: BotState, params: Params, kind: str) -> tuple[StoredFile, str]:
        """The file a send names: an upload, ``attach://<field>``, a URL or a file_id."""
        return await self.files.input_file(bot, params, kind)

    def file_url(self, token: str, file_path: str) -> str:
        return f"{self.base_url}/file/bot{token}/{file_path}"

    # ---- HTTP -----------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        method = request.match_info["method"]
        received = self.clock()
        params = Params({}, received=received)
        try:
            params = await read_params(request)
            params.received = received
            bot = self.bots.get(token)
            if bot is None and self.any_token and TOKEN_SHAPE.fullmatch(token):
                bot = self.bot(token)
            if bot is None:
                raise ApiError(401, "Unauthorized")
            handler = METHODS.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found")
            failure = self._take_failure(token, method.lower()) or self._fault(token, method)
            if failure is not None:
                if failure.network:
                    self._record(token, method, params, 0, {"network": "dropped"})
                    if request.transport is not None:
                        request.transport.abort()
                    return web.Response(status=500)
                raise ApiError(failure.status, failure.description, retry_after=failure.retry_after)
            result = await handler(self, bot, params)
        except ApiError as exc:
            body = exc.body()
            self._record(token, method, params, exc.code, body)
            return web.json_response(body, status=exc.code)
        body = {"ok": True, "result": result}
        self._record(token, method, params, 200, body)
        return web.json_response(body)

    def _take_failure(self, token: str, method: str) -> _Failure | None:
        for i, failure in enumerate(self._failures):
            if failure.matches(token, method):
                return self._failures.pop(i)
        return None

    def _fault(self, token: str, method: str) -> _Failure | None:
        cycle = self.faults.get(token)
        if cycle is None or method.lower() not in FLOODED_METHODS:
            return None
        kind = cycle.next_fault()
        if kind is None:
            return None
        status, description, retry_after = _FAULT_ANSWERS[kind]
        return _Failure(token, method.lower(), status, description, False, retry_after)

    def _record(
        self, token: str, method: str, params: Params, status: int, body: dict[str, Any]
    ) -> None:
        if self.record_calls:
            recorded = params.recorded()
            call = Call(token, method, recorded, status, body, time.time(), params.received)
            self.calls.append(call)

    async def _inspect(self, request: web.Request) -> web.Response:
        return inspect.chat_messages(self, request)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        bot = self.bots.get(request.match_info["token"])
        if bot is None:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        file = bot.file_paths.get(request.match_info["file_path"])
        if file is None:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        return web.Response(
            body=file.data, content_type=file.mime_type or "application/octet-stream"
        )
