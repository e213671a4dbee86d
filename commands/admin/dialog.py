"""The dialog of a client: its messages, newest page first, as the operator's /chatview allows (F7).

Page 1 holds the latest ``DIALOG_PAGE`` messages; higher pages go back in time. Within a page
messages read top to bottom, oldest first, as in a chat.
"""

from __future__ import annotations

from typing import Any, Final

from commands.admin.cards import CardData, message_label, when
from commands.admin.context import CommandContext
from commands.admin.preferences import preferences_of
from store.models import Client, Message, Operator

DIALOG_PAGE: Final = 10  # messages per page
MESSAGE_ID: Any = Message.id
STATUS_MARKS: Final = {
    "queued": "🕓",
    "sending": "🕓",
    "sent": "✓",
    "delivered": "✓✓",
    "read": "✓✓ read",
    "failed": "❌",
}


def dialog_page(client: Client, ctx: CommandContext, page: int) -> tuple[str, int]:
    """The text of dialog page ``page`` (from 1) and how many pages there are."""
    kinds = list(preferences_of(ctx.operator.id).chat_view)
    query = Message.select().where((Message.client == client.id) & Message.author_kind.in_(kinds))
    total = query.count()
    pages = max(1, -(-total // DIALOG_PAGE))
    page = min(max(1, page), pages)
    rows = list(
        query.order_by(Message.created_at.desc(), MESSAGE_ID.desc()).paginate(page, DIALOG_PAGE)
    )
    if not rows:
        hidden = "" if len(kinds) == 5 else " (some kinds are hidden: /chatview)"
        return f"No messages{hidden}.", pages
    data = CardData(operators={o.id: o for o in Operator.select()})
    lines = [f"Dialog, page {page}/{pages} (older pages with ◀):"]
    for message in reversed(rows):
        lines.append(_line(message, data, ctx))
    return "\n".join(lines), pages


def _line(message: Message, data: CardData, ctx: CommandContext) -> str:
    label = message_label(message, data, ctx)
    if label == "Attachment":  # the dialog names the author; the file is listed below
        label = "Client" if message.direction == "in" else "Bot"
    if message.author_kind == "comment" and message.operator_id is not None:
        author = data.operators.get(message.operator_id)
        mine = message.operator_id == ctx.operator.id
        label += " (you)" if mine else f" ({author.name})" if author is not None else ""
    head = f"[{when(message.created_at, ctx)}] {label}"
    if message.status:
        head += f" {STATUS_MARKS.get(message.status, message.status)}"
    body = message.text or ""
    if message.subject:
        body = f"«{message.subject}» {body}"
    for attachment in message.attachments or []:
        name = attachment.get("file_name") or attachment.get("url") or ""
        body += f" [{attachment.get('kind', 'file')}{': ' + name if name else ''}]"
    if (message.extra or {}).get("deleted"):
        body += " (deleted)"
    if message.status == "failed" and message.error_text:
        body += f" (error: {message.error_text})"
    return f"{head}: {body.strip()}"
