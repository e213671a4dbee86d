"""The Mini App's dialog: a client's messages as JSON, paged back in time, and what is new.

Which kinds of messages show is the operator's F7 setting (``/chatview``, the same
``OperatorPreference`` row the admin bot reads). Pages are keyset pages in the admin bot's
order (``created_at``, then ``id``, newest first): ``before`` is the id of the oldest message
on screen, so a page costs one indexed query (``message (client, created_at)``) however far
back it is. ``changes`` is what live arrival polls: messages with an id above the newest on
screen, and the ones whose delivery status moved since the last poll.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import peewee as pw

from commands.admin.assignment import client_for
from commands.admin.cards import CardData, message_label, when
from commands.admin.client import mark_read_on_open
from commands.admin.context import CommandContext, CommandError
from commands.admin.dialog import STATUS_MARKS
from commands.admin.preferences import CHAT_KINDS, preferences_of
from commands.admin.registry import ADMIN_COMMANDS
from store.clock import iso_local, utcnow
from store.models import Client, Message, Operator

PAGE: Final = 30  # messages per page
MESSAGE_ID: Any = Message.id
CHANGE_LIMIT: Final = 200  # messages one poll returns at most; the next poll takes the rest


def message_json(message: Message, data: CardData, ctx: CommandContext) -> dict[str, Any]:
    """One message as the dialog shows it: the author's label as F14 names it, the time in
    the project's zone, the delivery status and its mark, the files by kind and name."""
    files = message.attachments or []
    # The dialog names the author (F14's "Attachment" label is for previews): label the
    # message as if it had text; its files are listed apart.
    message.attachments = []
    label = message_label(message, data, ctx)
    message.attachments = files
    if message.author_kind == "comment" and message.operator_id is not None:
        author = data.operators.get(message.operator_id)
        mine = message.operator_id == ctx.operator.id
        label += " (you)" if mine else f" ({author.name})" if author is not None else ""
    shown_files = [
        {"kind": str(a.get("kind", "file")), "name": a.get("file_name") or a.get("url") or ""}
        for a in files
    ]
    return {
        "id": message.id,
        "direction": message.direction,
        "kind": message.author_kind,
        "label": label,
        "time": when(message.created_at, ctx),
        "at": iso_local(message.created_at, ctx.settings.zone),
        "text": message.text or "",
        "subject": message.subject,
        "files": shown_files,
        "status": message.status,
        "status_mark": STATUS_MARKS.get(message.status or "", message.status or ""),
        "error": message.error_text if message.status == "failed" else None,
        "deleted": bool((message.extra or {}).get("deleted")),
    }


def _shown_kinds(ctx: CommandContext) -> list[str]:
    return list(preferences_of(ctx.operator.id).chat_view)


def _messages(ctx: CommandContext, rows: list[Message]) -> list[dict[str, Any]]:
    data = CardData(operators={o.id: o for o in Operator.select()})
    return [message_json(m, data, ctx) for m in rows]


def page(ctx: CommandContext, client_id: int, before: int | None = None) -> dict[str, Any]:
    """A page of the dialog, oldest first: the newest ``PAGE`` messages, or those just older
    than message ``before``. ``more``: whether older ones exist. ``CommandError`` when the
    client is out of the operator's scope."""
    client = client_for(ctx, str(client_id), viewing=True)
    kinds = _shown_kinds(ctx)
    where = (Message.client == client.id) & Message.author_kind.in_(kinds)
    if before is not None:
        anchor = Message.get_or_none((Message.id == before) & (Message.client == client.id))
        if anchor is None:
            raise CommandError(f"No message {before} in this dialog.")
        where &= (Message.created_at < anchor.created_at) | (
            (Message.created_at == anchor.created_at) & (Message.id < anchor.id)
        )
    rows = list(
        Message.select()
        .where(where)
        .order_by(Message.created_at.desc(), MESSAGE_ID.desc())
        .limit(PAGE + 1)
    )
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return {
        "messages": _messages(ctx, list(reversed(rows))),
        "more": more,
        "hidden_kinds": [k for k in CHAT_KINDS if k not in kinds],
        "newest_id": _newest_id(client),
        "since": utcnow().isoformat(),
    }


def _newest_id(client: Client) -> int:
    """The highest message id of the client (of any kind): where the next poll starts."""
    newest = Message.select(pw.fn.MAX(MESSAGE_ID)).where(Message.client == client.id).scalar()
    return int(newest or 0)


def changes(
    ctx: CommandContext, client_id: int, after: int, since: str | None, *, seen: bool = False
) -> dict[str, Any]:
    """What changed in the dialog since a poll: ``messages`` with an id above ``after`` (new,
    oldest first) and ``updated``, older messages whose row changed at or after ``since`` (an
    ISO time this function returned: a delivery status moved). ``seen``: the operator is
    looking at the dialog, so new client messages are read (the admin bot's opening rule).
    """
    client = client_for(ctx, str(client_id), viewing=True)
    now = utcnow()
    kinds = _shown_kinds(ctx)
    mine = (Message.client == client.id) & Message.author_kind.in_(kinds)
    new = list(
        Message.select().where(mine & (Message.id > after)).order_by(MESSAGE_ID).limit(CHANGE_LIMIT)
    )
    updated: list[Message] = []
    if since:
        try:
            since_at = dt.datetime.fromisoformat(since)
        except ValueError:
            raise CommandError(f"since: {since!r} is not a time this API gave.") from None
        updated = list(
            Message.select()
            .where(
                mine
                & (Message.id <= after)
                & (Message.direction == "out")
                & (Message.updated_at >= since_at)
            )
            .order_by(MESSAGE_ID)
            .limit(CHANGE_LIMIT)
        )
    if seen and any(m.direction == "in" for m in new):
        mark_read_on_open(ctx, client)
    newest = max([after, *(m.id for m in new)])
    return {
        "messages": _messages(ctx, new),
        "updated": _messages(ctx, updated),
        "newest_id": newest,
        "since": now.isoformat(),
    }


def chat_view(ctx: CommandContext) -> list[dict[str, Any]]:
    """The operator's F7 setting: each kind of message, whether their dialogs show it."""
    shown = set(_shown_kinds(ctx))
    return [{"kind": k, "label": label, "shown": k in shown} for k, label in CHAT_KINDS.items()]


def toggle_kind(ctx: CommandContext, kind: str) -> list[dict[str, Any]]:
    """Show or hide one kind of message: the admin bot's ``/chatview`` button."""
    if kind not in CHAT_KINDS:
        raise CommandError(f"Unknown kind {kind!r}; known: {', '.join(CHAT_KINDS)}.")
    reply = ADMIN_COMMANDS.handle_button(ctx, f"cv:{kind}")
    if reply.error:
        raise CommandError(reply.text)
    return chat_view(ctx)
