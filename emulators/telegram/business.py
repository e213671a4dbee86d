"""Telegram Business in the emulator: connections, the owner's chats, sends through them.

A business account's owner connects the bot (``emu.connect_business``): the bot gets a
``business_connection`` update and, from then on, ``business_message``,
``edited_business_message`` and ``deleted_business_messages`` for the owner's private chats
(``emu.business_chat(...)`` scripts the people writing there, and the owner). The bot answers
with ``business_connection_id`` on sendMessage / sendPhoto / sendDocument: refused with 400
``BUSINESS_CONNECTION_INVALID`` for an unknown connection, ``BUSINESS_CONNECTION_NOT_ALLOWED``
while the owner has the bot disabled or without the right to reply. ``getBusinessConnection``
answers the connection.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulators.telegram.model import BotState, UserState, bad_request, now_s
from emulators.telegram.params import Params

if TYPE_CHECKING:
    from emulators.telegram.server import TelegramEmulator

_connection_ids = itertools.count(1)


@dataclass(slots=True)
class BusinessConnectionState:
    """One business account connected to a bot."""

    connection_id: str
    owner: UserState
    date: int
    can_reply: bool = True
    enabled: bool = True

    def as_json(self) -> dict[str, Any]:
        """The BusinessConnection object (Bot API 9: ``rights`` with ``can_reply``)."""
        return {
            "id": self.connection_id,
            "user": self.owner.as_user(),
            "user_chat_id": self.owner.user_id,
            "date": self.date,
            "rights": {"can_reply": self.can_reply, "can_read_messages": True},
            "is_enabled": self.enabled,
        }


def connections(bot: BotState) -> dict[str, BusinessConnectionState]:
    found: dict[str, BusinessConnectionState] = bot.business
    return found


async def connect(
    emu: TelegramEmulator,
    token: str,
    owner_id: int,
    first_name: str,
    *,
    can_reply: bool = True,
    enabled: bool = True,
    connection_id: str | None = None,
    **owner: Any,
) -> BusinessConnectionState:
    bot = emu.bot(token)
    state = BusinessConnectionState(
        connection_id or f"BizConn{next(_connection_ids):04d}",
        UserState(owner_id, first_name, **owner),
        now_s(),
        can_reply,
        enabled,
    )
    connections(bot)[state.connection_id] = state
    await emu.inject(token, {"business_connection": state.as_json()})
    return state


async def change(
    emu: TelegramEmulator,
    token: str,
    connection_id: str,
    *,
    enabled: bool | None = None,
    can_reply: bool | None = None,
) -> BusinessConnectionState:
    state = connections(emu.bot(token))[connection_id]
    if enabled is not None:
        state.enabled = enabled
    if can_reply is not None:
        state.can_reply = can_reply
    await emu.inject(token, {"business_connection": state.as_json()})
    return state


def resolve(bot: BotState, params: Params, connection_id: str) -> int:
    """The chat of a send through a business connection (checks the connection)."""
    state = connections(bot).get(connection_id)
    if state is None:
        raise bad_request("BUSINESS_CONNECTION_INVALID")
    if not (state.enabled and state.can_reply):
        raise bad_request("BUSINESS_CONNECTION_NOT_ALLOWED")
    chat_id = params.chat_id()
    if not isinstance(chat_id, int) or chat_id <= 0:
        raise bad_request("chat not found")
    return chat_id


async def get_business_connection(emu: TelegramEmulator, bot: BotState, params: Params) -> Any:
    state = connections(bot).get(params.required_str("business_connection_id"))
    if state is None:
        raise bad_request("BUSINESS_CONNECTION_INVALID")
    return state.as_json()


class BusinessChat:
    """A person writing to a business account's owner (and the owner answering in Telegram
    itself); every action is the update the bot gets, returned as a dict."""

    def __init__(
        self,
        emu: TelegramEmulator,
        bot: BotState,
        connection: BusinessConnectionState,
        person: UserState,
    ) -> None:
        self.emu = emu
        self.bot = bot
        self.connection = connection
        self.person = person
        self.texts: dict[int, str] = {}

    @property
    def chat_id(self) -> int:
        return self.person.user_id

    def _message(
        self, text: str, sender: UserState, message_id: int | None = None
    ) -> dict[str, Any]:
        message_id = message_id or self.bot.next_message_id(self.chat_id)
        self.texts[message_id] = text
        return {
            "message_id": message_id,
            "business_connection_id": self.connection.connection_id,
            "from": sender.as_user(),
            "chat": self.person.as_chat(),
            "date": now_s(),
            "text": text,
        }

    async def send_text(self, text: str) -> dict[str, Any]:
        """The person writes ``text`` to the owner: ``business_message``."""
        body = self._message(text, self.person)
        return await self.emu.inject(self.bot.token, {"business_message": body})

    async def owner_says(self, text: str) -> dict[str, Any]:
        """The owner answers from their own Telegram app: ``business_message`` from them."""
        body = self._message(text, self.connection.owner)
        return await self.emu.inject(self.bot.token, {"business_message": body})

    async def edit(self, message_id: int, text: str) -> dict[str, Any]:
        if message_id not in self.texts:
            raise ValueError(f"no message {message_id} in this business chat")
        body = {**self._message(text, self.person, message_id), "edit_date": now_s()}
        return await self.emu.inject(self.bot.token, {"edited_business_message": body})

    async def delete(self, *message_ids: int) -> dict[str, Any]:
        for message_id in message_ids:
            self.texts.pop(message_id, None)
        body = {
            "business_connection_id": self.connection.connection_id,
            "chat": self.person.as_chat(),
            "message_ids": list(message_ids),
        }
        return await self.emu.inject(self.bot.token, {"deleted_business_messages": body})
