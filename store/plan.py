"""Who a bulk send would reach, before it is sent: one grouped query per plan.

For a set of clients (a broadcast's filter, resend-failed's targets) ``reach_by_bot`` counts,
per bot, the clients matched, the ones a job skips (blocked by us; unsubscribed) and, for
WhatsApp, the recipients outside the 24-hour customer-service window (free text is refused
there; they need an approved template). It is one ``SELECT ... GROUP BY bot`` over the
matching clients — no loop over clients; the window is a correlated ``EXISTS`` on the
``message (client, created_at)`` index. The rates and the time to finish are the commands'
business (``commands.plan``): they come from the configuration, not the store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import peewee as pw

from store.models import Bot, Client, Message

CLIENT_ID: Any = Client.id


@dataclass(frozen=True, slots=True)
class BotReach:
    """One bot's share of a plan. ``blocked``: blocked by us (skipped); ``unsubscribed``:
    unsubscribed and not blocked (skipped); ``outside_window``: WhatsApp recipients (not
    skipped) who have not written within the window; 0 for other messengers."""

    bot_id: int
    name: str
    kind: str
    matched: int
    blocked: int
    unsubscribed: int
    outside_window: int

    @property
    def skipped(self) -> int:
        return self.blocked + self.unsubscribed

    @property
    def recipients(self) -> int:
        return self.matched - self.skipped


def wrote_since(since: dt.datetime) -> pw.ColumnBase:
    """SQL: the ``Client`` of the enclosing query wrote to us at or after ``since`` (naive
    UTC): WhatsApp's window is open. A correlated ``EXISTS`` on ``message (client,
    created_at)``."""
    return pw.fn.EXISTS(
        Message.select(pw.SQL("1")).where(
            (Message.client == CLIENT_ID)
            & (Message.direction == "in")
            & (Message.created_at >= since)
        )
    )


def _count(condition: pw.Node) -> pw.Node:
    return pw.fn.COALESCE(pw.fn.SUM(pw.Case(None, [(condition, 1)], 0)), 0)


def reach_by_bot(clients: pw.ModelSelect[Client], window_since: dt.datetime) -> list[BotReach]:
    """Per bot (by name) the reach of the clients of ``clients`` (a ``Client`` query); the
    WhatsApp window counts a client as inside when they wrote at or after ``window_since``
    (naive UTC)."""
    blocked = Client.blocked == True  # noqa: E712
    unsubscribed = (Client.unsubscribed == True) & (Client.blocked == False)  # noqa: E712
    reachable = (Client.blocked == False) & (Client.unsubscribed == False)  # noqa: E712
    outside = (Bot.kind == "whatsapp") & reachable & ~wrote_since(window_since)
    query: Any = (
        Client.select(
            Bot.id,
            Bot.name,
            Bot.kind,
            pw.fn.COUNT(CLIENT_ID),
            _count(blocked),
            _count(unsubscribed),
            _count(outside),
        )
        .join(Bot, on=(Client.bot == Bot.id))
        .where(CLIENT_ID.in_(clients.select(CLIENT_ID)))
        .group_by(Bot.id, Bot.name, Bot.kind)
        .order_by(Bot.name)
        .tuples()
    )
    return [BotReach(*(row[:3]), *(int(n) for n in row[3:])) for row in query]
