"""Which of the client's mails a reply answers (for ``In-Reply-To``/``References``/``Re:``).

Blocking store reads: call through ``bots.webhook.store_call``.
"""

from __future__ import annotations

from typing import Any

from bots.email.send import ThreadInfo
from store.models import Bot, Client, Message

_MESSAGE_ID: Any = Message.id  # typed ``int`` on the model for attribute access


def thread_for(bot_name: str, address: str, reply_to: str | None = None) -> ThreadInfo | None:
    """The mail ``reply_to`` (a ``<message-id>``) of that client, else the client's last
    inbound mail (the last to arrive) that has a Message-ID; None when the client never wrote.
    """
    query = (
        Message.select(Message.platform_message_id, Message.subject, Message.extra)
        .join(Client, on=(Message.client == Client.id))
        .join(Bot, on=(Message.bot == Bot.id))
        .where(
            (Bot.name == bot_name)
            & (Client.messenger_id == address.lower())
            & (Message.direction == "in")
            & Message.platform_message_id.is_null(False)
        )
    )
    if reply_to:
        query = query.where(Message.platform_message_id == reply_to)
    # Arrival order: a sender's Date header can lie or lag.
    row = query.order_by(_MESSAGE_ID.desc()).first()
    if row is None:
        return None
    extra = row.extra if isinstance(row.extra, dict) else {}
    references = extra.get("references") or []
    return ThreadInfo(
        message_id=row.platform_message_id,
        references=tuple(str(r) for r in references if isinstance(r, str)),
        subject=row.subject,
    )
