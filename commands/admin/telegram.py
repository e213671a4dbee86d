"""The staff's Telegram bot: aiogram 3 in front of the admin command layer.

Updates arrive by webhook (``POST /webhooks/admin``, Telegram's secret header compared in
constant time: 401 when wrong or missing) or by long polling (``admin_bot.mode``). A message
from a known operator runs as a command with their Telegram id (``ADMIN_COMMANDS``); a button
press runs the layer's button handler and is answered with ``answerCallbackQuery``; a Telegram
reply to a notification writes to the client (``forward``). Strangers get one polite refusal,
remembered in the store (``gate``), and nothing more. Replies go out through ``botapi``.

In the background the bot sends notifications of new client messages and live job progress
(``run_round`` every ``notify_interval_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiogram import Dispatcher, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message, Update
from aiohttp import web
from pydantic import ValidationError

from bots.telegram.client import make_bot
from bots.webhook import (
    error_response,
    parse_json_object,
    read_body,
    secrets_match,
    store_call,
    unavailable,
)
from commands.admin import botapi, forward, gate, miniapp, notify, progress
from commands.admin.context import CommandContext, CommandError, find_operator
from commands.admin.registry import ADMIN_COMMANDS, CommandSet
from commands.admin.reply import Reply
from config import Settings
from config.staff import AdminBotSettings
from store.errors import StoreUnavailable

log = logging.getLogger("switchboard.admin_bot")

WEBHOOK_PATH = "/webhooks/admin"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
UPDATES = ["message", "callback_query"]


class AdminBot:
    """One admin bot: its aiogram ``Bot`` and ``Dispatcher``, webhook or polling, notifier."""

    def __init__(self, settings: Settings, commands: CommandSet = ADMIN_COMMANDS) -> None:
        if settings.admin_bot is None:
            raise ValueError("admin_bot is not configured")
        self.settings = settings
        self.config: AdminBotSettings = settings.admin_bot
        self.commands = commands
        self.bot = make_bot(self.config.token.get_secret_value(), self.config.api_base)
        self.dispatcher = Dispatcher()
        router = Router(name="admin")
        router.message.register(self.on_message)
        router.callback_query.register(self.on_callback)
        self.dispatcher.include_router(router)
        self.secret: str | None = None
        self.grace_s = notify.GRACE_S  # seconds a new message waits before it is notified
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the bot runs on

    # ---- lifecycle -------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        if self.config.mode == "webhook":
            app.router.add_post(WEBHOOK_PATH, self.webhook)

    async def start(self, *, background: bool = True) -> None:
        """Resolve the secret; register the webhook (when ``webhook_url`` is set) or start
        polling; with ``background`` start the notification rounds."""
        self._loop = asyncio.get_running_loop()
        configured = self.config.webhook_secret
        self.secret = await store_call(
            gate.stored_secret, configured.get_secret_value() if configured else None
        )
        try:
            if self.config.mode == "polling":
                await self.bot.delete_webhook(drop_pending_updates=False)
            elif self.config.webhook_url:
                await self.bot.set_webhook(
                    self.config.webhook_url, secret_token=self.secret, allowed_updates=UPDATES
                )
        except TelegramAPIError as exc:
            # Telegram unreachable at start must not stop serve: polling retries by itself,
            # and a webhook registered before keeps working.
            log.error("admin bot: could not set up updates with Telegram: %s", exc.message)
        if self.config.mode == "polling":
            self._spawn(self._poll())
        admins = await store_call(gate.admin_ids)
        await botapi.publish_menu(self.bot, self.commands, admins, self.settings.permissions)
        await botapi.publish_app_button(self.bot, miniapp.app_url(self.settings))
        if background:
            self._spawn(self._rounds())

    async def close(self) -> None:
        if self.config.mode == "polling":
            with contextlib.suppress(RuntimeError):  # polling had not started
                await self.dispatcher.stop_polling()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.bot.session.close()

    def _spawn(self, coro: Any) -> None:
        self._tasks.append(asyncio.create_task(coro))

    async def _poll(self) -> None:
        await self.dispatcher.start_polling(
            self.bot,
            handle_signals=False,
            close_bot_session=False,
            allowed_updates=UPDATES,
        )

    async def _rounds(self) -> None:
        await store_call(forward.forget_old_notices)
        while True:
            try:
                await self.run_round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("admin bot: notification round failed")
            await asyncio.sleep(self.config.notify_interval_s)

    # ---- webhook ---------------------------------------------------------------------
    async def webhook(self, request: web.Request) -> web.Response:
        """Telegram's update: 401 without the right secret, 400 malformed, 503 store down."""
        if self.secret is None:
            return unavailable()
        if not secrets_match(request.headers.get(SECRET_HEADER), self.secret):
            return error_response(401, "wrong or missing secret token")
        data = parse_json_object(await read_body(request))
        try:
            update = Update.model_validate(data, context={"bot": self.bot})
        except ValidationError as exc:
            return error_response(400, f"not a Telegram update: {exc.errors()[0]['msg']}")
        try:
            await self.dispatcher.feed_update(self.bot, update)
        except StoreUnavailable:
            return unavailable()  # nothing ran: Telegram redelivers
        except Exception:
            # Redelivering an update that breaks the bot would only break it again.
            log.exception("admin bot: update %s failed", update.update_id)
        return web.json_response({"ok": True})

    # ---- updates ---------------------------------------------------------------------
    async def on_message(self, message: Message) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        operator = await store_call(find_operator, user.id)
        if operator is None:
            if await store_call(gate.refuse_once, user.id):
                refusal = gate.REFUSAL.format(id=user.id)
                await botapi.call(self.bot, SendMessage(chat_id=message.chat.id, text=refusal))
            return
        ctx = CommandContext(operator=operator, settings=self.settings)
        try:
            reply = await self._answer(ctx, message)
        except StoreUnavailable:
            raise
        except Exception as exc:
            log.exception("admin bot: message from %s failed", user.id)
            reply = Reply(f"Something went wrong: {type(exc).__name__}. Please try again.")
        await self.show(reply, operator.id, message.chat.id)

    async def _answer(self, ctx: CommandContext, message: Message) -> Reply:
        quoted = message.reply_to_message
        if (
            quoted is not None
            and quoted.from_user is not None
            and quoted.from_user.id == self.bot.id
        ):
            client_id = await store_call(forward.notice_client, message.chat.id, quoted.message_id)
            if client_id is not None:
                return await self._reply_to_client(ctx, client_id, message)
        if message.text:
            return await store_call(self.commands.handle_text, ctx, message.text)
        return Reply(
            "Send a command (see /help), or reply to a notification to write to that client."
        )

    async def _reply_to_client(
        self, ctx: CommandContext, client_id: int, message: Message
    ) -> Reply:
        text = message.text or message.caption or ""
        try:
            attachment = await botapi.fetch_attachment(self.bot, message, self.config.files_dir)
        except TelegramAPIError as exc:
            return Reply(f"Could not fetch the file from Telegram: {exc.message}. Nothing sent.")
        if attachment is None and not text:
            return Reply("Only text, photos and documents can be sent to a client.")
        attachments = [attachment] if attachment is not None else []
        try:
            return await store_call(forward.send_to_client, ctx, client_id, text, attachments)
        except CommandError as exc:
            return Reply(str(exc))

    async def on_callback(self, query: CallbackQuery) -> None:
        operator = await store_call(find_operator, query.from_user.id)
        if operator is None:
            await self._answer_callback(query, "This bot is for staff only.")
            return
        ctx = CommandContext(operator=operator, settings=self.settings)
        notice: str | None = None
        try:
            reply = await store_call(self.commands.handle_button, ctx, query.data or "")
            notice = reply.notice
            pressed = query.message
            if pressed is not None:
                chat_id, message_id = pressed.chat.id, pressed.message_id
            else:
                chat_id, message_id = query.from_user.id, None
            await self.show(reply, operator.id, chat_id, message_id)
        except StoreUnavailable:
            raise
        except Exception as exc:
            log.exception("admin bot: button %r failed", query.data)
            notice = f"Something went wrong: {type(exc).__name__}"
        finally:
            await self._answer_callback(query, notice)

    async def _answer_callback(self, query: CallbackQuery, text: str | None) -> None:
        try:
            await self.bot.answer_callback_query(query.id, text=(text or None) and text[:200])
        except TelegramAPIError as exc:  # too late (15 s) or already answered: nothing to fix
            log.info("admin bot: answerCallbackQuery failed: %s", exc.message)

    # ---- sending ---------------------------------------------------------------------
    async def send_reply(
        self, reply: Reply, chat_id: int, message_id: int | None = None
    ) -> list[int]:
        """Show ``reply`` (editing ``message_id`` when it edits); the ids of the messages."""
        return await botapi.show(self.bot, reply, chat_id, message_id)

    def send_from_thread(self, reply: Reply, chat_id: int, timeout_s: float = 120.0) -> list[int]:
        """``send_reply`` from a worker thread (a store call, such as the Mini App's export):
        runs on the bot's loop and waits for it; the ids of the messages sent."""
        if self._loop is None:
            raise RuntimeError("the admin bot has not started")
        future = asyncio.run_coroutine_threadsafe(self.send_reply(reply, chat_id), self._loop)
        return future.result(timeout_s)

    async def show(
        self, reply: Reply, operator_id: int, chat_id: int, pressed: int | None = None
    ) -> int:
        """Show an operator ``reply``. What the reply says about the message that carries it
        (the pressed message when edited, else the last one sent) is recorded: live (or no
        longer), about a client (a Telegram reply to it writes to them)."""
        shown = await self.send_reply(reply, chat_id, pressed)
        target = pressed if reply.edit and pressed is not None else (shown[-1] if shown else None)
        if target is None:
            return 0
        if reply.live is not None or pressed is not None:
            await store_call(progress.track, operator_id, chat_id, target, reply.live)
        if reply.about_client is not None:
            await store_call(
                forward.remember_notice, operator_id, chat_id, target, reply.about_client
            )
        return len(shown)

    # ---- notifications and progress --------------------------------------------------
    async def run_round(self) -> int:
        """One round: notify new client messages, refresh the live messages that are due.
        Returns the number of Bot API messages sent or edited."""
        done = 0
        claimed = await store_call(notify.claim_range, grace_s=self.grace_s)
        notices = await store_call(notify.plan, claimed, max_single=self.config.notify_max_single)
        for item in notices:
            done += await self.show(item.reply, item.operator_id, item.chat_id)
        for live in await store_call(progress.claim_due, self.config.progress_interval_s):
            done += await self._refresh(live)
        return done

    async def _refresh(self, live: progress.LiveMessage) -> int:
        """Press a live message's refresh as its operator and edit it with the answer."""
        operator = await store_call(find_operator, live.telegram_id)
        if operator is None:
            await store_call(progress.settle, live.notice_id)
            return 0
        ctx = CommandContext(operator=operator, settings=self.settings)
        reply = await store_call(self.commands.handle_button, ctx, live.live)
        reply.edit = True
        shown = await self.send_reply(reply, live.chat_id, live.message_id)
        await store_call(progress.track, operator.id, live.chat_id, live.message_id, reply.live)
        return len(shown)


ADMIN_BOT_KEY = web.AppKey("admin_bot", AdminBot)


def install_admin_bot(app: web.Application, settings: Settings) -> None:
    """Serve the admin bot with the app when ``admin_bot`` is configured (webhook route or
    polling task, notification rounds), closing it with the app."""
    if settings.admin_bot is None:
        return
    admin = AdminBot(settings)
    app[ADMIN_BOT_KEY] = admin
    admin.add_routes(app)

    async def start(_: web.Application) -> None:
        await admin.start()

    async def close(_: web.Application) -> None:
        await admin.close()

    app.on_startup.append(start)
    app.on_cleanup.append(close)
