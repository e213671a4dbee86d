"""Notifications of new client messages for staff (issue 8 item 4), independent of Telegram.

Every ``notify_interval_s`` the admin bot calls ``claim_range``: it moves a store cursor
(``ProjectSetting`` ``admin_bot:notify_cursor``, the last ``Message.id`` notified) past the
inbound messages that arrived since, in one short locking transaction, so that several
``serve`` processes never notify the same message twice. ``plan`` turns the claimed range into
notifications with set-based queries (a GROUP BY per client, then the texts of the few
messages shown): per recipient one notice per message when they got at most ``max_single``,
else one digest. A burst of 1,000 messages thus becomes one digest per recipient per round.
The responsible operator is notified; for a free client, every admin.

Delivery is at most once: a process that dies between claiming and sending loses that
round's notifications (they are reminders; the messages themselves are in the store).
On PostgreSQL a message whose transaction commits more than ``GRACE_S`` after its insert may
be passed by the cursor: ids are claimed only ``GRACE_S`` after they were written.

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
from commands.admin.joins import JOIN_KEY, join_buttons
from commands.admin.registry import ADMIN_COMMANDS
from commands.admin.reply import Button, Reply
from store.clients.unread import mark_read
from store.clock import utcnow
from store.db import is_postgres, write_transaction
from store.models import Bot, Client, Message, Operator, ProjectSetting

CURSOR_KEY = "admin_bot:notify_cursor"
GRACE_S = 1.0  # seconds a new message waits before it may be claimed
DIGEST_CLIENTS = 15  # clients listed by name in a digest
SNIPPET = 300  # characters of a message shown in a notification
MESSAGE_ID: Any = Message.id


@dataclass(frozen=True, slots=True)
class Claimed:
    """The inbound messages with ids in (``after``, ``upto``], claimed by this process."""

    after: int
    upto: int


@dataclass(frozen=True, slots=True)
class ClientBurst:
    """What one client sent in a claimed range: ``count`` messages, the last ``last_id``."""

    client_id: int
    client_name: str
    bot_name: str
    responsible_id: int | None
    count: int
    last_id: int


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification to send: to ``chat_id`` (the operator's Telegram id), about
    ``client_id`` when it concerns a single client (a reply to it then writes to them)."""

    operator_id: int
    chat_id: int
    reply: Reply
    client_id: int | None


def claim_range(*, grace_s: float = GRACE_S, now: dt.datetime | None = None) -> Claimed | None:
    """Claim the inbound messages not yet notified (None when there are none).

    The first call on a store only places the cursor at the newest message: history is
    never notified.
    """
    now = now or utcnow()
    settled = now - dt.timedelta(seconds=grace_s)
    newest_query = Message.select(pw.fn.MAX(MESSAGE_ID)).where(
        (Message.direction == "in") & (Message.updated_at <= settled)
    )
    # Most rounds find nothing new: answer them with two reads, without the write lock.
    cursor = ProjectSetting.get_or_none(ProjectSetting.key == CURSOR_KEY)
    if cursor is not None and (newest_query.scalar() or 0) <= int(cursor.value or 0):
        return None
    with write_transaction():
        query = ProjectSetting.select().where(ProjectSetting.key == CURSOR_KEY)
        if is_postgres():
            query = query.for_update()
        row = query.first()
        newest = newest_query.scalar() or 0
        if row is None:
            ProjectSetting.insert(
                key=CURSOR_KEY, value=newest, updated_at=now
            ).on_conflict_ignore().execute()
            return None
        last = int(row.value or 0)
        if newest <= last:
            return None
        ProjectSetting.update(value=newest, updated_at=now).where(
            ProjectSetting.key == CURSOR_KEY
        ).execute()
    return Claimed(last, newest)


def _in_range(claimed: Claimed) -> pw.ColumnBase:
    # Service events (a reaction, a pin) leave the dialog read, so they notify nobody; a
    # join request is the one an operator has to answer.
    worth = (Message.author_kind != "system") | Message.dedup_key.startswith(JOIN_KEY)
    return MESSAGE_ID.between(claimed.after + 1, claimed.upto) & (Message.direction == "in") & worth


def bursts(claimed: Claimed) -> list[ClientBurst]:
    """Per client of the range: how many messages and the last one (one GROUP BY)."""
    count = pw.fn.COUNT(MESSAGE_ID)
    last = pw.fn.MAX(MESSAGE_ID)
    rows: Any = (
        Message.select(Message.client, Client.name, Bot.name, Client.responsible, count, last)
        .join(Client, on=(Message.client == Client.id))
        .join(Bot, on=(Client.bot == Bot.id))
        .where(_in_range(claimed))
        .group_by(Message.client, Client.name, Bot.name, Client.responsible)
        .tuples()
    )
    return [ClientBurst(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class Shown:
    """A message as a notification shows it."""

    message_id: int
    client_id: int
    text: str
    join_request: bool = False  # a Telegram join request: Approve / Decline buttons


def _shown(where: pw.ColumnBase) -> list[Shown]:
    rows: Any = (
        Message.select(
            MESSAGE_ID, Message.client, Message.text, Message.attachments, Message.dedup_key
        )
        .where(where)
        .order_by(MESSAGE_ID)
        .tuples()
    )
    return [
        Shown(mid, cid, describe(text, attachments), bool(key and key.startswith(JOIN_KEY)))
        for mid, cid, text, attachments, key in rows
    ]


def plan(claimed: Claimed | None, *, max_single: int = 3) -> list[Notice]:
    """The notifications of ``claimed``: per recipient, one per message up to ``max_single``
    messages, else one digest."""
    if claimed is None:
        return []
    staff = {op.id: op for op in Operator.select().where(Operator.active == True)}  # noqa: E712
    admins = [op for op in staff.values() if op.is_admin]
    per_recipient: dict[int, list[ClientBurst]] = defaultdict(list)
    for burst in bursts(claimed):
        owner = staff.get(burst.responsible_id) if burst.responsible_id is not None else None
        for op in [owner] if owner is not None else admins:
            per_recipient[op.id].append(burst)
    single = {
        op_id: items
        for op_id, items in per_recipient.items()
        if sum(b.count for b in items) <= max_single
    }
    digest = {op_id: items for op_id, items in per_recipient.items() if op_id not in single}
    # The texts: every message of the clients notified one by one, the last of those listed.
    single_clients = {b.client_id for items in single.values() for b in items}
    listed = {b.last_id for items in digest.values() for b in _ranked(items)[:DIGEST_CLIENTS]}
    by_client: dict[int, list[Shown]] = defaultdict(list)
    last_text: dict[int, str] = {}
    if single_clients:
        for shown in _shown(_in_range(claimed) & Message.client.in_(sorted(single_clients))):
            by_client[shown.client_id].append(shown)
    if listed:
        last_text = {s.message_id: s.text for s in _shown(MESSAGE_ID.in_(sorted(listed)))}
    notices: list[Notice] = []
    for op_id, items in single.items():
        op = staff[op_id]
        mine = sorted(
            ((shown, burst) for burst in items for shown in by_client[burst.client_id]),
            key=lambda pair: pair[0].message_id,
        )
        for shown, burst in mine:
            reply = single_reply(burst, shown.text)
            if shown.join_request:
                reply.buttons.insert(0, join_buttons(shown.message_id))
            notices.append(Notice(op.id, op.telegram_id, reply, burst.client_id))
    for op_id, items in digest.items():
        op = staff[op_id]
        only = items[0].client_id if len(items) == 1 else None
        notices.append(Notice(op.id, op.telegram_id, digest_reply(items, last_text), only))
    return notices


def _ranked(items: list[ClientBurst]) -> list[ClientBurst]:
    """The busiest clients first, then the latest."""
    return sorted(items, key=lambda b: (-b.count, -b.last_id))


def describe(text: str | None, attachments: Any) -> str:
    """A message as one short text: its attachments' kinds and its text (``SNIPPET`` chars)."""
    kinds = [str(a.get("kind", "file")) for a in (attachments or []) if isinstance(a, dict)]
    parts = [" ".join(f"[{kind}]" for kind in kinds)] if kinds else []
    body = (text or "").strip()
    if len(body) > SNIPPET:
        body = body[: SNIPPET - 1] + "…"
    if body:
        parts.append(body)
    return " ".join(parts) or "[empty message]"


def client_buttons(client_id: int, *, free: bool) -> list[list[Button]]:
    first = [Button("↩ Reply", data=f"nt:r:{client_id}"), Button("Open", data=f"nt:o:{client_id}")]
    second = [Button("✓ Mark read", data=f"nt:m:{client_id}")]
    if free:
        second.append(Button("Assign to me", data=f"nt:a:{client_id}"))
    return [first, second]


def single_reply(burst: ClientBurst, text: str) -> Reply:
    head = f"💬 {burst.client_name} · #{burst.client_id} · {burst.bot_name}"
    return Reply(
        f"{head}\n{text}",
        buttons=client_buttons(burst.client_id, free=burst.responsible_id is None),
        about_client=burst.client_id,
    )


def digest_reply(items: list[ClientBurst], last_text: dict[int, str]) -> Reply:
    total = sum(b.count for b in items)
    lines = [f"📥 {total} new messages from {len(items)} clients"]
    ranked = _ranked(items)
    for burst in ranked[:DIGEST_CLIENTS]:
        snippet = last_text.get(burst.last_id, "")[:80]
        lines.append(f"#{burst.client_id} {burst.client_name} ({burst.count}): {snippet}")
    if len(ranked) > DIGEST_CLIENTS:
        lines.append(f"… and {len(ranked) - DIGEST_CLIENTS} more clients")
    if len(items) == 1:
        only = items[0]
        buttons = client_buttons(only.client_id, free=only.responsible_id is None)
        return Reply("\n".join(lines), buttons=buttons, about_client=only.client_id)
    return Reply("\n".join(lines), buttons=[[Button("Unread dialogs", data="nt:u")]])


def _command(ctx: CommandContext, text: str, fallback: str) -> Reply:
    """Run ``text`` as a command if the layer has it (``/client`` may not exist yet), else
    ``fallback``."""
    name = text.split()[0][1:]
    if name in ADMIN_COMMANDS.commands:
        return ADMIN_COMMANDS.handle_text(ctx, text)
    return ADMIN_COMMANDS.handle_text(ctx, fallback)


@ADMIN_COMMANDS.button("nt")
def notice_button(ctx: CommandContext, payload: str) -> Reply:
    """``nt:r|o|m|a:CLIENT``: answer, open, mark read, assign to me; ``nt:u``: unread."""
    action, _, arg = payload.partition(":")
    if action == "u":
        return _command(ctx, "/unread", "/help")
    client = client_for(ctx, arg)
    if action == "r":
        # A message the operator's app answers at once: their answer goes to the client.
        return Reply(
            f"✍ Your answer to {client.name} (#{client.id}):",
            force_reply=True,
            about_client=client.id,
        )
    if action == "o":
        return _command(ctx, f"/client {client.id}", "/help")
    if action == "m":
        mark_read([client.id])
        return Reply("", notice=f"{client.name}: marked read.")
    if action == "a":
        answer = ADMIN_COMMANDS.handle_text(ctx, f"/assign {client.id} me")
        return Reply("", notice=answer.text.splitlines()[0][:190])
    return Reply("This button is no longer valid.", notice="expired")
