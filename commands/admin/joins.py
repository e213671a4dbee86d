"""Telegram join requests: Approve / Decline buttons on the notification and the client card.

A ``chat_join_request`` is stored as a service event of the requesting user's dialog (dedup
key ``tg:join:<update_id>``, ``extra["join_request"]``: ``chat_id``, ``chat_title``,
``user_id``). Pressing a button (``jr:a:<message id>`` / ``jr:d:<message id>``) records the
decision on that event (``extra["decision"]``: approved/declined, by whom) and queues an
outbox row whose ``extra["action"]`` the bot's adapter turns into ``approveChatJoinRequest``
or ``declineChatJoinRequest``: it is sent, retried and reported like any message. A second
press (the same operator tapping twice, or a colleague) changes nothing.
"""

from __future__ import annotations

from typing import Any, Final

from bots.telegram.service import JOIN_KEY
from commands.admin.assignment import client_for
from commands.admin.context import CommandContext, CommandError
from commands.admin.registry import ADMIN_COMMANDS
from commands.admin.reply import Button, Reply
from store import outbox
from store.db import is_postgres, write_transaction
from store.models import Message

ACTIONS: Final = {"a": "approve_chat_join_request", "d": "decline_chat_join_request"}
PENDING_SHOWN: Final = 3  # join requests a card offers buttons for at once
MESSAGE_ID: Any = Message.id


def is_join_request(message: Message) -> bool:
    return bool(message.dedup_key and message.dedup_key.startswith(JOIN_KEY))


def join_buttons(message_id: int, title: str = "") -> list[Button]:
    suffix = f" «{title[:20]}»" if title else ""
    return [
        Button(f"✅ Approve{suffix}", data=f"jr:a:{message_id}"),
        Button("❌ Decline", data=f"jr:d:{message_id}"),
    ]


def pending_requests(client_id: int) -> list[Message]:
    """The client's join requests nobody has decided yet, newest first (``PENDING_SHOWN``);
    the admin bot's card and the Mini App's offer their buttons."""
    rows = (
        Message.select()
        .where((Message.client == client_id) & Message.dedup_key.startswith(JOIN_KEY))
        .order_by(MESSAGE_ID.desc())
        .limit(20)
    )
    return [m for m in rows if not (m.extra or {}).get("decision")][:PENDING_SHOWN]


def pending_rows(client_id: int) -> list[list[Button]]:
    """Buttons for the client's join requests nobody has decided yet, newest first."""
    return [
        join_buttons(m.id, str(m.extra["join_request"].get("chat_title", "")))
        for m in pending_requests(client_id)
    ]


def decide(ctx: CommandContext, message_id: int, approve: bool) -> tuple[Message, bool]:
    """Record the decision on join request ``message_id`` and queue the Bot API call; the
    request and whether this call decided it (False: someone already had)."""
    with write_transaction():
        query = Message.select().where(Message.id == message_id)
        if is_postgres():
            query = query.for_update()  # two operators pressing at once: one decides
        message = query.first()
        if message is None or not is_join_request(message):
            raise CommandError("That join request is no longer stored.")
        client = client_for(ctx, str(message.client_id))
        extra = dict(message.extra or {})
        if extra.get("decision"):
            return message, False
        join = extra["join_request"]
        verdict = "approved" if approve else "declined"
        extra["decision"] = {"verdict": verdict, "operator": ctx.operator.id}
        Message.update(extra=extra).where(Message.id == message_id).execute()
        message.extra = extra
        mark = "✅ Approved" if approve else "❌ Declined"
        outbox.enqueue(
            client,
            f"{mark} the request to join «{join.get('chat_title', join['chat_id'])}»",
            author_kind="operator",
            operator_id=ctx.operator.id,
            extra={
                "action": ACTIONS["a" if approve else "d"],
                "chat_id": join["chat_id"],
                "user_id": join["user_id"],
            },
        )
    return message, True


@ADMIN_COMMANDS.button("jr")
def join_button(ctx: CommandContext, payload: str) -> Reply:
    """``jr:a|d:MESSAGE``: approve or decline the join request stored as message MESSAGE."""
    action, _, word = payload.partition(":")
    if action not in ACTIONS or not word.isdigit():
        raise CommandError("Unknown join request button.")
    message, decided = decide(ctx, int(word), action == "a")
    title = message.extra["join_request"].get("chat_title", "")
    if not decided:
        verdict = message.extra["decision"]["verdict"]
        return Reply("", notice=f"Already {verdict}.")
    verdict = "approved" if action == "a" else "declined"
    return Reply(
        f"Join request to «{title}» {verdict}: sending to Telegram.", notice=verdict.capitalize()
    )
