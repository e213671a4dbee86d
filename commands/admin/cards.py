"""Client cards (F14): the short card of a list, shaped by the operator's /preview (F6), and
the full card of ``/client``.

Everything a page of cards needs besides the ``Client`` rows (bots, last messages, lists,
labels, variables, operators, blocks) is fetched with one set-based query per kind for the
whole page, never one query per client.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import peewee as pw

from commands.admin.context import CommandContext
from commands.admin.preferences import PREVIEW_FIELDS, preferences_of
from store.models import (
    Block,
    Bot,
    Client,
    Label,
    LabelMembership,
    ListMembership,
    MailingList,
    Message,
    Operator,
    Variable,
)

ICONS: Final = {"telegram": "✈️", "whatsapp": "🟢", "email": "✉️"}
MESSAGE_ID: Any = Message.id
PREVIEW_TEXT = 80  # characters of the last message a card shows


@dataclass(slots=True)
class CardData:
    """What cards show besides the client row, keyed by client id."""

    bots: dict[int, Bot] = field(default_factory=dict)
    operators: dict[int, Operator] = field(default_factory=dict)
    blocks: dict[int, str] = field(default_factory=dict)
    last: dict[int, Message] = field(default_factory=dict)
    lists: dict[int, list[str]] = field(default_factory=dict)
    labels: dict[int, list[str]] = field(default_factory=dict)
    variables: dict[int, dict[str, str]] = field(default_factory=dict)


def load_card_data(clients: Sequence[Client], variable_names: Sequence[str] = ()) -> CardData:
    """The extras of ``clients`` in a fixed number of queries (about seven)."""
    data = CardData()
    ids = [c.id for c in clients]
    if not ids:
        return data
    data.bots = {b.id: b for b in Bot.select()}
    data.operators = {o.id: o for o in Operator.select()}
    block_ids = {c.block_id for c in clients if c.block_id is not None}
    if block_ids:
        data.blocks = {b.id: b.name for b in Block.select().where(Block.id.in_(block_ids))}
    newest = (
        Message.select(pw.fn.MAX(MESSAGE_ID))
        .where(Message.client.in_(ids))
        .group_by(Message.client)
    )
    data.last = {m.client_id: m for m in Message.select().where(MESSAGE_ID.in_(newest))}
    lists: dict[int, list[str]] = defaultdict(list)
    rows: Any = (
        ListMembership.select(ListMembership.client, MailingList.name)
        .join(MailingList)
        .where(ListMembership.client.in_(ids))
        .order_by(MailingList.name)
        .tuples()
    )
    for client_id, name in rows:
        lists[client_id].append(name)
    data.lists = dict(lists)
    labels: dict[int, list[str]] = defaultdict(list)
    rows = (
        LabelMembership.select(LabelMembership.client, Label.name)
        .join(Label)
        .where(LabelMembership.client.in_(ids))
        .order_by(Label.name)
        .tuples()
    )
    for client_id, name in rows:
        labels[client_id].append(name)
    data.labels = dict(labels)
    if variable_names:
        variables: dict[int, dict[str, str]] = defaultdict(dict)
        rows = (
            Variable.select(Variable.client, Variable.name, Variable.value)
            .where(Variable.client.in_(ids) & Variable.name.in_(list(variable_names)))
            .tuples()
        )
        for client_id, name, value in rows:
            variables[client_id][name] = value
        data.variables = dict(variables)
    return data


def when(moment: dt.datetime | None, ctx: CommandContext) -> str:
    """A stored naive-UTC time in the project's zone, to the minute."""
    if moment is None:
        return "—"
    local = moment.replace(tzinfo=dt.UTC).astimezone(ctx.settings.zone)
    return local.strftime("%Y-%m-%d %H:%M")


def responsible_text(client: Client, data: CardData, ctx: CommandContext) -> str:
    """ "your client", another operator's email (or name), or "free"."""
    if client.responsible_id is None:
        return "free"
    if client.responsible_id == ctx.operator.id:
        return "your client"
    other = data.operators.get(client.responsible_id)
    if other is None:
        return "another operator"
    return other.email or other.name


def message_label(message: Message, data: CardData, ctx: CommandContext) -> str:
    """Who wrote it, as F14 labels it: Client, You, an operator's email, Comment, Attachment."""
    if message.attachments and not message.text:
        return "Attachment"
    if message.author_kind == "comment":
        return "Comment"
    if message.author_kind == "client":
        return "Client"
    if message.author_kind == "operator":
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


def status_marks(client: Client) -> str:
    marks = [
        label
        for flag, label in (
            (client.blocked, "blocked"),
            (client.unsubscribed, "unsubscribed"),
            (client.paused, "paused"),
        )
        if flag
    ]
    return f" [{', '.join(marks)}]" if marks else ""


def title(client: Client, data: CardData) -> str:
    """``📌 🔵 ✈️ Name #12 [blocked]``: pin, unread, messenger, name, id, status."""
    bot = data.bots.get(client.bot_id)
    parts = []
    if client.pinned:
        parts.append("📌")
    if client.unread:
        parts.append("🔵")
    parts.append(ICONS.get(bot.kind if bot else "", "💬"))
    parts.append(f"{client.name or client.messenger_id} #{client.id}{status_marks(client)}")
    return " ".join(parts)


def field_value(key: str, client: Client, data: CardData, ctx: CommandContext) -> str | None:
    """One preview field as text; None when there is nothing to show."""
    if key == "messenger_id":
        return client.messenger_id
    if key == "username":
        return f"@{client.username}" if client.username else None
    if key == "created":
        return when(client.created_at, ctx)
    if key == "last_action":
        return when(client.last_action_at, ctx)
    if key == "block":
        return data.blocks.get(client.block_id or 0)
    if key == "tag":
        return client.tag
    if key == "responsible":
        return responsible_text(client, data, ctx)
    if key == "stage":
        return client.deal_stage
    if key == "lists":
        return ", ".join(data.lists.get(client.id, [])) or None
    if key == "labels":
        return ", ".join(data.labels.get(client.id, [])) or None
    if key == "last_message":
        message = data.last.get(client.id)
        if message is None:
            return None
        return f"{message_label(message, data, ctx)}: {message_preview(message)}"
    return None


def short_card(client: Client, data: CardData, ctx: CommandContext) -> str:
    """The card of a list: the title, then the fields and variables the operator chose (F6)."""
    pref = preferences_of(ctx.operator.id)
    lines = [title(client, data)]
    for key in PREVIEW_FIELDS:
        if key in pref.preview_fields:
            value = field_value(key, client, data, ctx)
            if value:
                lines.append(f"   {PREVIEW_FIELDS[key]}: {value}")
    for name in pref.preview_variables:
        value = data.variables.get(client.id, {}).get(name)
        if value is not None:
            lines.append(f"   {name}: {value}")
    return "\n".join(lines)


def full_card(client: Client, ctx: CommandContext) -> str:
    """Every field of the client (F14: opening the card shows the full client data)."""
    data = load_card_data([client])
    bot = data.bots.get(client.bot_id)
    lines = [title(client, data)]
    if bot is not None:
        lines.append(f"Bot: {bot.name} ({bot.kind})")
    for key, label in PREVIEW_FIELDS.items():
        value = field_value(key, client, data, ctx)
        if value:
            lines.append(f"{label}: {value}")
    if client.language:
        lines.append(f"Language: {client.language}")
    if client.avatar_url:
        lines.append(f"Avatar: {client.avatar_url}")
    variables: list[Any] = list(
        Variable.select(Variable.name, Variable.value)
        .where(Variable.client == client.id)
        .order_by(Variable.name)
        .tuples()
    )
    if variables:
        lines.append("Variables:")
        lines.extend(f"   {name} = {value}" for name, value in variables)
    return "\n".join(lines)
