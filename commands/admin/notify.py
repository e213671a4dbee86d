"""Notifications of new client messages for staff (issue 8 item 4), independent of Telegram.

Every ``notify_interval_s`` the admin bot calls ``claim_incoming``: it moves a store cursor
(``ProjectSetting`` ``admin_bot:notify_cursor``, the last ``Message.id`` notified) past the
inbound messages that arrived since, in one locking transaction, so that several ``serve``
processes never notify the same message twice. ``plan`` turns the claimed messages into one
``Notice`` per recipient and message, or one digest per recipient when they got more than
``max_single`` in the round: a burst of 1,000 messages becomes one digest per operator per
round. The responsible operator is notified; for a free client, every admin.

Delivery is at most once: a process that dies between claiming and sending loses that
round's notifications (they are reminders; the messages themselves are in the store).
On PostgreSQL a message whose transaction commits more than ``GRACE_S`` after its insert may
be passed by the cursor: ids are taken only ``GRACE_S`` after they were written.

The buttons of a notification (prefix ``nt``) are handled here too.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import peewee as pw

from commands.admin.assignment import client_for
from commands.admin.context import CommandContext
from commands.admin.registry import ADMIN_COMMANDS
from commands.admin.reply import Button, Reply
from store.clock import utcnow
from store.db import is_postgres, write_transaction
from store.models import Bot, Client, Message, Operator, ProjectSetting

CURSOR_KEY = "admin_bot:notify_cursor"
GRACE_S = 1.0  # seconds a new message waits before it may be claimed
BATCH_LIMIT = 20_000  # messages claimed at most per round
DIGEST_CLIENTS = 15  # clients listed by name in a digest
SNIPPET = 300  # characters of a message shown in a notification
MESSAGE_ID: Any = Message.id


@dataclass(frozen=True, slots=True)
class Incoming:
    """One claimed inbound message with what a notification shows of it."""

    message_id: int
    client_id: int
    client_name: str
    bot_name: str
    text: str
    attachment_kinds: tuple[str, ...]
    responsible_id: int | None


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification to send: to ``chat_id`` (the operator's Telegram id), about
    ``client_id`` when it concerns a single client (a reply to it then writes to them)."""

    operator_id: int
    chat_id: int
    reply: Reply
    client_id: int | None


def claim_incoming(
    *, limit: int = BATCH_LIMIT, grace_s: float = GRACE_S, now: dt.datetime | None = None
) -> list[Incoming]:
    """The inbound messages not yet notified (oldest first, at most ``limit``), claimed.

    The first call on a store only places the cursor at the newest message: history is
    never notified.
    """
    now = now or utcnow()
    settled = now - dt.timedelta(seconds=grace_s)
    with write_transaction():
        query = ProjectSetting.select().where(ProjectSetting.key == CURSOR_KEY)
        if is_postgres():
            query = query.for_update()
        row = query.first()
        newest = (
            Message.select(pw.fn.MAX(MESSAGE_ID))
            .where((Message.direction == "in") & (Message.updated_at <= settled))
            .scalar()
        ) or 0
        if row is None:
            ProjectSetting.insert(
                key=CURSOR_KEY, value=newest, updated_at=now
            ).on_conflict_ignore().execute()
            return []
        last = int(row.value or 0)
        if newest <= last:
            return []
        rows: Any = (
            Message.select(
                MESSAGE_ID,
                Message.client,
                Client.name,
                Bot.name,
                Message.text,
                Message.attachments,
                Client.responsible,
            )
            .join(Client, on=(Message.client == Client.id))
            .switch(Message)
            .join(Bot, on=(Message.bot == Bot.id))
            .where(MESSAGE_ID.between(last + 1, newest) & (Message.direction == "in"))
            .order_by(MESSAGE_ID)
            .limit(limit)
            .tuples()
        )
        claimed = [
            Incoming(
                message_id=mid,
                client_id=cid,
                client_name=name,
                bot_name=bot_name,
                text=text or "",
                attachment_kinds=tuple(
                    str(a.get("kind", "file")) for a in (attachments or []) if isinstance(a, dict)
                ),
                responsible_id=responsible,
            )
            for mid, cid, name, bot_name, text, attachments, responsible in rows
        ]
        if claimed:
            ProjectSetting.update(value=claimed[-1].message_id, updated_at=now).where(
                ProjectSetting.key == CURSOR_KEY
            ).execute()
    return claimed


def plan(incoming: list[Incoming], *, max_single: int = 3) -> list[Notice]:
    """The notifications for ``incoming``: per recipient, one per message up to
    ``max_single`` messages, else one digest."""
    if not incoming:
        return []
    staff = {
        op.id: op
        for op in Operator.select().where(Operator.active == True)  # noqa: E712
    }
    admins = [op for op in staff.values() if op.is_admin]
    by_recipient: dict[int, list[Incoming]] = defaultdict(list)
    for item in incoming:
        owner = staff.get(item.responsible_id) if item.responsible_id is not None else None
        for op in [owner] if owner is not None else admins:
            by_recipient[op.id].append(item)
    notices: list[Notice] = []
    for op_id, items in by_recipient.items():
        op = staff[op_id]
        clients = {item.client_id for item in items}
        if len(items) <= max_single:
            for item in items:
                notices.append(
                    Notice(op.id, op.telegram_id, single_reply(item, op), item.client_id)
                )
        else:
            only = items[0].client_id if len(clients) == 1 else None
            notices.append(Notice(op.id, op.telegram_id, digest_reply(items, op), only))
    return notices


def describe(item: Incoming) -> str:
    """The message as one short text: its text (cut to ``SNIPPET``) and its attachments."""
    parts = []
    if item.attachment_kinds:
        parts.append(" ".join(f"[{kind}]" for kind in item.attachment_kinds))
    text = item.text.strip()
    if len(text) > SNIPPET:
        text = text[: SNIPPET - 1] + "…"
    if text:
        parts.append(text)
    return " ".join(parts) or "[empty message]"


def client_buttons(client_id: int, *, free: bool) -> list[list[Button]]:
    first = [Button("↩ Reply", data=f"nt:r:{client_id}"), Button("Open", data=f"nt:o:{client_id}")]
    second = [Button("✓ Mark read", data=f"nt:m:{client_id}")]
    if free:
        second.append(Button("Assign to me", data=f"nt:a:{client_id}"))
    return [first, second]


def single_reply(item: Incoming, viewer: Operator) -> Reply:
    head = f"💬 {item.client_name} · #{item.client_id} · {item.bot_name}"
    return Reply(
        f"{head}\n{describe(item)}",
        buttons=client_buttons(item.client_id, free=item.responsible_id is None),
    )


def digest_reply(items: list[Incoming], viewer: Operator) -> Reply:
    per_client: dict[int, list[Incoming]] = defaultdict(list)
    for item in items:
        per_client[item.client_id].append(item)
    lines = [f"📥 {len(items)} new messages from {len(per_client)} clients"]
    # The busiest clients first; each with its latest message.
    ranked = sorted(per_client.values(), key=lambda msgs: (-len(msgs), -msgs[-1].message_id))
    for msgs in ranked[:DIGEST_CLIENTS]:
        last = msgs[-1]
        snippet = describe(last)[:80]
        lines.append(f"#{last.client_id} {last.client_name} ({len(msgs)}): {snippet}")
    if len(ranked) > DIGEST_CLIENTS:
        lines.append(f"… and {len(ranked) - DIGEST_CLIENTS} more clients")
    if len(per_client) == 1:
        only = items[-1]
        buttons = client_buttons(only.client_id, free=only.responsible_id is None)
    else:
        buttons = [[Button("Unread dialogs", data="nt:u")]]
    return Reply("\n".join(lines), buttons=buttons)


def _command(ctx: CommandContext, text: str, fallback: str) -> Reply:
    """Run ``text`` as a command if the layer has it (``/client`` may not exist yet), else
    ``fallback``."""
    name = text.split()[0][1:]
    if name in ADMIN_COMMANDS.commands:
        return ADMIN_COMMANDS.handle_text(ctx, text)
    return ADMIN_COMMANDS.handle_text(ctx, fallback)


@ADMIN_COMMANDS.button("nt")
def notice_button(ctx: CommandContext, payload: str) -> Reply:
    """``nt:r|o|m|a:CLIENT``: reply hint, open, mark read, assign to me; ``nt:u``: unread."""
    action, _, arg = payload.partition(":")
    if action == "u":
        return _command(ctx, "/unread", "/help")
    client = client_for(ctx, arg)
    if action == "r":
        return Reply(
            "",
            notice=f"Reply to this notification (swipe it left) to write to {client.name}."[:190],
        )
    if action == "o":
        return _command(ctx, f"/client {client.id}", "/help")
    if action == "m":
        Client.update(unread=False).where(Client.id == client.id).execute()
        return Reply("", notice=f"{client.name}: marked read.")
    if action == "a":
        answer = ADMIN_COMMANDS.handle_text(ctx, f"/assign {client.id} me")
        return Reply("", notice=answer.text.splitlines()[0][:190])
    return Reply("This button is no longer valid.", notice="expired")
