"""Client cards (F14): the short card of a list, shaped by the operator's /preview (F6), and
the full card of ``/client``.

The client data comes from ``store.clients.details.client_details`` (a fixed number of
set-based queries for a whole page); the last message of each client is one more query
(``last_ids``: an index step per client).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import peewee as pw

from commands.admin.context import CommandContext
from commands.admin.preferences import PREVIEW_FIELDS, preferences_of
from store.business import PREFIX as BUSINESS_PREFIX
from store.business import connection_of_client
from store.clients.details import ClientDetails, client_details
from store.clock import shown
from store.filters.sql import CLIENT_ID
from store.models import Client, Message, Operator, OperatorPreference

ICONS: Final = {"telegram": "✈️", "whatsapp": "🟢", "email": "✉️"}
MESSAGE_ID: Any = Message.id
PREVIEW_TEXT = 80  # characters of the last message a card shows


@dataclass(slots=True)
class CardData:
    """What cards show: each client's details and last message, and the operators."""

    details: dict[int, ClientDetails] = field(default_factory=dict)
    last: dict[int, Message] = field(default_factory=dict)
    operators: dict[int, Operator] = field(default_factory=dict)
    usernames: dict[int, str] = field(default_factory=dict)  # not among the details


def load_card_data(client_ids: Sequence[int], ctx: CommandContext) -> CardData:
    """Everything the cards of ``client_ids`` show, in a fixed number of queries."""
    data = CardData()
    ids = list(client_ids)
    if not ids:
        return data
    data.details = {d.client_id: d for d in client_details(ids, ctx.settings.zone)}
    data.operators = {o.id: o for o in Operator.select()}
    data.last = {m.client_id: m for m in Message.select().where(MESSAGE_ID.in_(last_ids(ids)))}
    named: Any = (
        Client.select(CLIENT_ID, Client.username)
        .where(CLIENT_ID.in_(ids) & Client.username.is_null(False))
        .tuples()
    )
    data.usernames = dict(named)
    return data


def last_ids(client_ids: list[int]) -> pw.SelectQuery:
    """SQL: the id of each client's last message, in the dialog's order (``created_at``, then
    id). Per client one backward step on the ``message (client, created_at)`` index, however
    long the dialog: a MAX(id) per client read every message of it (38 ms at 100,000 on
    SQLite, docs/benchmarks.md)."""
    latest = Message.alias("latest")
    last = (
        latest.select(latest.id)
        # a service event (a reaction, a pin) is not the last thing anyone said
        .where((latest.client == CLIENT_ID) & (latest.author_kind != "system"))
        .order_by(latest.created_at.desc(), latest.id.desc())
        .limit(1)
    )
    return Client.select(last).where(CLIENT_ID.in_(client_ids))


def when(moment: dt.datetime | str | None, ctx: CommandContext) -> str:
    """A stored time (naive UTC, or the ISO text of ``ClientDetails``) in the project's zone
    with the zone's name, to the minute (``store.clock.shown``)."""
    return shown(moment, ctx.settings.zone)


def responsible_text(d: ClientDetails, ctx: CommandContext) -> str:
    """ "your client", another operator's name, or "free"."""
    if d.responsible_telegram_id is None:
        return "free"
    if d.responsible_telegram_id == ctx.operator.telegram_id:
        return "your client"
    return d.responsible or "another operator"


def message_label(message: Message, data: CardData, ctx: CommandContext) -> str:
    """Who wrote it, as F14 labels it: Client, You, an operator's email, Comment, Attachment."""
    if message.attachments and not message.text:
        return "Attachment"
    if message.author_kind == "comment":
        return "Comment"
    if message.author_kind == "client":
        return "Client"
    if message.author_kind == "operator":
        if (message.extra or {}).get("business_owner"):
            return "Owner"  # the business account's owner, writing in Telegram itself
        if message.operator_id == ctx.operator.id:
            return "You"
        other = data.operators.get(message.operator_id or 0)
        return (other.email or other.name) if other is not None else "Operator"
    if message.author_kind == "system":
        return "Service"
    return "Bot"


def message_preview(message: Message, limit: int = PREVIEW_TEXT) -> str:
    text = " ".join((message.text or "").split())
    if not text and message.attachments:
        kinds = ", ".join(str(a.get("kind", "file")) for a in message.attachments)
        text = f"[{kinds}]"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_marks(d: ClientDetails) -> str:
    marks = [
        label
        for flag, label in (
            (d.blocked, "blocked"),
            (d.unsubscribed, "unsubscribed"),
            (d.paused, "paused"),
        )
        if flag
    ]
    return f" [{', '.join(marks)}]" if marks else ""


def title(d: ClientDetails) -> str:
    """``📌 🔵 ✈️ Name #12 [blocked]``: pin, unread, messenger, name, id, status."""
    parts = []
    if d.pinned:
        parts.append("📌")
    if d.unread:
        parts.append("🔵")
    parts.append(ICONS.get(d.messenger, "💬"))
    parts.append(f"{d.name or d.messenger_id} #{d.client_id}{status_marks(d)}")
    return " ".join(parts)


def field_value(key: str, d: ClientDetails, data: CardData, ctx: CommandContext) -> str | None:
    """One preview field as text; None when there is nothing to show."""
    simple: dict[str, str | None] = {
        "messenger_id": d.messenger_id,
        "username": f"@{data.usernames[d.client_id]}" if d.client_id in data.usernames else None,
        "created": when(d.created_at, ctx),
        "last_action": when(d.last_action_at, ctx),
        "block": d.block,
        "tag": d.tag,
        "responsible": responsible_text(d, ctx),
        "stage": d.deal_stage,
        "lists": ", ".join(d.lists) or None,
        "labels": ", ".join(d.labels) or None,
    }
    if key == "last_message":
        message = data.last.get(d.client_id)
        if message is None:
            return None
        return f"{message_label(message, data, ctx)}: {message_preview(message)}"
    return simple.get(key)


def short_card(
    client_id: int, data: CardData, ctx: CommandContext, pref: OperatorPreference | None = None
) -> str:
    """The card of a list: the title, then the fields and variables the operator chose (F6).
    ``pref``: the operator's preferences when the caller has read them (once for a list of
    cards, not one query per card); None reads them."""
    d = data.details[client_id]
    pref = preferences_of(ctx.operator.id) if pref is None else pref
    lines = [title(d)]
    for key in PREVIEW_FIELDS:
        if key in pref.preview_fields:
            value = field_value(key, d, data, ctx)
            if value:
                lines.append(f"   {PREVIEW_FIELDS[key]}: {value}")
    for name in pref.preview_variables:
        value = d.variables.get(name)
        if value is not None:
            lines.append(f"   {name}: {value}")
    return "\n".join(lines)


def business_line(client_id: int) -> str:
    """The card's mark of a Telegram Business chat: whose account, and whether it answers."""
    client = Client.get_by_id(client_id)
    connection = connection_of_client(client.bot_id, client.messenger_id)
    if connection is None:
        return "💼 Business chat (connection not seen yet)"
    owner = connection.owner_name + (
        f" @{connection.owner_username}" if connection.owner_username else ""
    )
    state = (
        "replies go through the owner's account"
        if connection.enabled and connection.can_reply
        else "the bot is turned off there: replies are refused"
    )
    return f"💼 Business chat of {owner}: {state}"


def full_card(client_id: int, ctx: CommandContext) -> str:
    """Every field of the client (F14: opening the card shows the full client data)."""
    data = load_card_data([client_id], ctx)
    d = data.details[client_id]
    lines = [title(d), f"Bot: {d.bot} ({d.messenger})"]
    if d.messenger_id.startswith(BUSINESS_PREFIX):
        lines.append(business_line(d.client_id))
    for key, label in PREVIEW_FIELDS.items():
        value = field_value(key, d, data, ctx)
        if value:
            lines.append(f"{label}: {value}")
    if d.avatar_url:
        lines.append(f"Avatar: {d.avatar_url}")
    if d.variables:
        lines.append("Variables:")
        lines.extend(f"   {name} = {value}" for name, value in d.variables.items())
    return "\n".join(lines)
