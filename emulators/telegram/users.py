"""Scripted Telegram users: what they send becomes updates for the bot.

``ScriptedUser`` is returned by ``TelegramEmulator.user(token, user_id, ...)``; each action
builds the update Telegram would send and hands it to ``TelegramEmulator.inject`` (pushed to
the webhook, or queued for ``getUpdates``). Actions return the update as a dict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulators.telegram.messages import message_json
from emulators.telegram.model import BotState, SentMessage, StoredFile, UserState, now_s

if TYPE_CHECKING:
    from emulators.telegram.server import TelegramEmulator


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[dict[str, Any]]:
    """The ``bot_command`` entity Telegram adds to a message starting with ``/``."""
    if not text.startswith("/") or len(text) < 2:
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]


class ScriptedUser:
    """One user of one bot; see ``TelegramEmulator.user``."""

    def __init__(self, emu: TelegramEmulator, bot: BotState, state: UserState) -> None:
        self.emu = emu
        self.bot = bot
        self.state = state

    @property
    def user_id(self) -> int:
        return self.state.user_id

    @property
    def token(self) -> str:
        return self.bot.token

    def _chat_id(self, chat_id: int | None) -> int:
        if chat_id is None:
            return self.state.user_id
        if chat_id not in self.bot.groups and chat_id != self.state.user_id:
            raise ValueError(f"chat {chat_id} is not this user's chat nor a known group")
        return chat_id

    def _message(
        self, chat_id: int | None, kind: str, text: str | None, file: StoredFile | None = None
    ) -> tuple[SentMessage, dict[str, Any]]:
        chat = self._chat_id(chat_id)
        message = SentMessage(
            token=self.bot.token,
            chat_id=chat,
            message_id=self.bot.next_message_id(chat),
            kind=kind,
            text=text,
            date=now_s(),
            outgoing=False,
            file=file,
        )
        message.json = message_json(self.bot, message, self.state.as_user())
        self.bot.messages[(chat, message.message_id)] = message
        return message, message.json

    @staticmethod
    def _replying(body: dict[str, Any], reply_to: SentMessage | None) -> dict[str, Any]:
        """``body`` as a Telegram reply to ``reply_to`` (a bot message from ``emu.sent``)."""
        if reply_to is not None:
            body["reply_to_message"] = reply_to.json
        return body

    async def send_text(
        self, text: str, *, chat_id: int | None = None, reply_to: SentMessage | None = None
    ) -> dict[str, Any]:
        """A text message (``/command`` text gets its ``bot_command`` entity), a reply to
        ``reply_to`` when given."""
        _, data = self._message(chat_id, "text", text)
        if entities := command_entities(text):
            data["entities"] = entities
        return await self.emu.inject(self.bot.token, {"message": self._replying(data, reply_to)})

    async def start(self, payload: str | None = None) -> dict[str, Any]:
        """``/start`` as sent by a ``t.me/<bot>?start=<payload>`` deep link."""
        return await self.send_text("/start" if not payload else f"/start {payload}")

    async def send_photo(
        self,
        data: bytes = b"\xff\xd8\xff\xe0emulated-jpeg",
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        reply_to: SentMessage | None = None,
    ) -> dict[str, Any]:
        """A photo, stored in the emulator (``getFile`` and the download URL work)."""
        file = self.emu.add_file(self.bot.token, data, "photo", mime_type="image/jpeg")
        _, body = self._message(chat_id, "photo", caption, file)
        return await self.emu.inject(self.bot.token, {"message": self._replying(body, reply_to)})

    async def send_document(
        self,
        data: bytes,
        file_name: str = "file.bin",
        *,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        chat_id: int | None = None,
        reply_to: SentMessage | None = None,
    ) -> dict[str, Any]:
        """A document with ``file_name`` and ``mime_type``, stored in the emulator."""
        file = self.emu.add_file(
            self.bot.token, data, "document", file_name=file_name, mime_type=mime_type
        )
        _, body = self._message(chat_id, "document", caption, file)
        return await self.emu.inject(self.bot.token, {"message": self._replying(body, reply_to)})

    async def edit(self, message: dict[str, Any] | int, text: str) -> dict[str, Any]:
        """Edit one of this user's messages (an update from ``send_text`` or a message id)."""
        if isinstance(message, dict):
            message = int((message.get("message") or message)["message_id"])
        found = self.bot.messages.get((self.state.user_id, message))
        if found is None or found.outgoing:
            raise ValueError(f"user {self.user_id} has no message {message} to edit")
        found.edits.append((found.text, found.reply_markup))
        found.text = text
        found.json = message_json(self.bot, found, self.state.as_user())
        return await self.emu.inject(self.bot.token, {"edited_message": found.json})

    async def press(self, message: SentMessage | int, callback_data: str) -> dict[str, Any]:
        """Press the inline button with ``callback_data`` under a bot message (the object
        from ``emu.sent`` or its message id in this user's chat)."""
        if isinstance(message, int):
            found = self.bot.messages.get((self.state.user_id, message))
            if found is None:
                raise ValueError(f"no message {message} in the chat of user {self.user_id}")
            message = found
        if message.deleted:
            raise ValueError(f"message {message.message_id} was deleted")
        if not any(b.get("callback_data") == callback_data for b in message.buttons()):
            raise ValueError(
                f"message {message.message_id} has no button with callback_data {callback_data!r}"
            )
        query_id = self.emu.next_callback_id()
        self.bot.callback_queries[query_id] = None
        body = {
            "callback_query": {
                "id": query_id,
                "from": self.state.as_user(),
                "message": message.json,
                "chat_instance": str(-abs(hash((self.bot.token, message.chat_id))) % 10**18),
                "data": callback_data,
            }
        }
        return await self.emu.inject(self.bot.token, body)

    async def _member_update(self, old: str, new: str) -> dict[str, Any]:
        bot_user = self.bot.as_user()
        old_member: dict[str, Any] = {"user": bot_user, "status": old}
        new_member: dict[str, Any] = {"user": bot_user, "status": new}
        for member in (old_member, new_member):
            if member["status"] == "kicked":
                member["until_date"] = 0
        body = {
            "my_chat_member": {
                "chat": self.state.as_chat(),
                "from": self.state.as_user(),
                "date": now_s(),
                "old_chat_member": old_member,
                "new_chat_member": new_member,
            }
        }
        return await self.emu.inject(self.bot.token, body)

    async def block(self) -> dict[str, Any]:
        """The user blocks the bot: sends get 403 and the bot gets ``my_chat_member``."""
        self.state.blocked = True
        return await self._member_update("member", "kicked")

    async def unblock(self) -> dict[str, Any]:
        """The user unblocks the bot (restarts it)."""
        self.state.blocked = False
        return await self._member_update("kicked", "member")

    async def react(
        self, message: SentMessage | int, emoji: str | None, *, old: str | None = None
    ) -> dict[str, Any]:
        """A ``message_reaction`` on a message of this user's chat: ``emoji`` set (None:
        removed), ``old`` the reaction it replaces."""
        message_id = message if isinstance(message, int) else message.message_id

        def reactions(value: str | None) -> list[dict[str, Any]]:
            return [{"type": "emoji", "emoji": value}] if value else []

        body = {
            "message_reaction": {
                "chat": self.state.as_chat(),
                "message_id": message_id,
                "user": self.state.as_user(),
                "date": now_s(),
                "old_reaction": reactions(old),
                "new_reaction": reactions(emoji),
            }
        }
        return await self.emu.inject(self.bot.token, body)

    async def request_join(
        self, chat_id: int, *, bio: str | None = None, invite_link: str | None = None
    ) -> dict[str, Any]:
        """Ask to join the supergroup or channel ``chat_id`` (an ``emu.group``): the bot gets
        ``chat_join_request`` and may answer it with approve/declineChatJoinRequest."""
        group = self.bot.groups.get(chat_id)
        if group is None:
            raise ValueError(f"chat {chat_id} is not a known group (emu.group)")
        self.bot.join_requests[(chat_id, self.user_id)] = "pending"
        request: dict[str, Any] = {
            "chat": group.as_chat(),
            "from": self.state.as_user(),
            "user_chat_id": self.user_id,
            "date": now_s(),
        }
        if bio is not None:
            request["bio"] = bio
        if invite_link is not None:
            request["invite_link"] = {
                "invite_link": invite_link,
                "creator": self.bot.as_user(),
                "creates_join_request": True,
                "is_primary": False,
                "is_revoked": False,
            }
        return await self.emu.inject(self.bot.token, {"chat_join_request": request})

    def deactivate(self) -> None:
        """The account is deleted: sends get 403 ``user is deactivated`` (no update)."""
        self.state.deactivated = True

    def set_profile_photo(self, data: bytes = b"\xff\xd8\xff\xe0avatar") -> StoredFile:
        """Add a profile photo (newest first), for ``getUserProfilePhotos``."""
        file = self.emu.add_file(self.bot.token, data, "profile", mime_type="image/jpeg")
        self.state.photos.insert(0, file)
        return file
