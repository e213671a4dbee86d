"""The email channel: one mailbox per bot, IMAP in (``MailboxWatcher``), SMTP out.

``EmailAdapter(bot_settings, settings)`` follows ``bots.contract.ChannelAdapter``: ``start()``
runs the mailbox loop as a background task, ``send()`` mails a client (a reply in the
client's last conversation unless a new ``subject`` is given), ``close()`` stops the loop.
Email has no webhooks: ``add_routes`` adds nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import ClassVar

from aiohttp import web

from bots.contract import OutboundMessage, SendResult
from bots.email.conversation import thread_for
from bots.email.ingest import MailboxWatcher
from bots.email.send import build_message, send_mail
from bots.errors import PermanentError
from bots.webhook import store_call
from config import EmailBotSettings, Settings

log = logging.getLogger("switchboard.email")


class EmailAdapter:
    kind: ClassVar[str] = "email"

    def __init__(self, bot_settings: EmailBotSettings, settings: Settings | None = None) -> None:
        self.bot_settings = bot_settings
        self.settings = settings
        self.name = bot_settings.name
        self.watcher = (
            MailboxWatcher(self.name, bot_settings.imap) if bot_settings.imap is not None else None
        )
        self._task: asyncio.Task[None] | None = None

    def add_routes(self, app: web.Application) -> None:
        """Mail arrives over IMAP, not webhooks."""

    async def start(self) -> None:
        """Start the mailbox loop in the background and return at once."""
        if self.watcher is None or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.create_task(self.watcher.run(), name=f"mailbox-{self.name}")

    async def send(self, message: OutboundMessage) -> SendResult:
        """Mail ``message.text`` to ``message.messenger_id``.

        Without ``subject`` it answers the client's last mail (or ``reply_to``, a
        ``<message-id>``) so it threads; with one it starts a new conversation.
        """
        smtp = self.bot_settings.smtp
        if smtp is None:
            raise PermanentError(f"mailbox {self.name}: no smtp settings; cannot send")
        thread = None
        if message.subject is None or message.reply_to:
            thread = await store_call(thread_for, self.name, message.messenger_id, message.reply_to)
        mail = build_message(smtp, message, thread)
        await send_mail(self.name, smtp, mail, message.messenger_id)
        message_id = str(mail["Message-ID"])
        return SendResult(
            platform_message_id=message_id,
            extra={
                "message_id": message_id,
                "subject": str(mail["Subject"]),
                "in_reply_to": thread.message_id if thread else None,
            },
        )

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
