"""Small builders of store rows for client-list tests (bots, operators, clients), and readers
of a client's funnel block and block history."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from store.clients.unread import mark_unread
from store.models import (
    Block,
    BlockHistory,
    Bot,
    Client,
    Label,
    LabelMembership,
    ListMembership,
    MailingList,
    Operator,
    Variable,
)

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")


def local(text: str, zone: zoneinfo.ZoneInfo = MOSCOW) -> dt.datetime:
    """``"22.05.2023 23:59"`` in ``zone`` as the naive UTC the store keeps."""
    moment = dt.datetime.strptime(text, "%d.%m.%Y %H:%M").replace(tzinfo=zone)
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def operator(telegram_id: int, name: str, role: str = "operator") -> Operator:
    return Operator.create(telegram_id=telegram_id, name=name, role=role)


def bot(name: str = "shop_tg", kind: str = "telegram") -> Bot:
    return Bot.get_or_create(name=name, defaults={"kind": kind})[0]


def client(
    name: str,
    messenger_id: str | None = None,
    *,
    on: Bot | None = None,
    lists: tuple[str, ...] = (),
    labels: tuple[str, ...] = (),
    variables: dict[str, str] | None = None,
    block: str | None = None,
    **fields: Any,
) -> Client:
    """A client with memberships; ``fields`` go straight to ``Client`` (created_at, ...),
    but ``unread=True`` marks it unread (``store.clients.unread``)."""
    unread = fields.pop("unread", False)
    the_bot = on or bot()
    if block is not None:
        fields["block"] = Block.get_or_create(name=block)[0]
    row = Client.create(
        bot=the_bot,
        messenger_id=messenger_id or f"m-{name}-{Client.select().count()}",
        name=name,
        **fields,
    )
    for list_name in lists:
        ListMembership.create(client=row, mailing_list=MailingList.get_or_create(name=list_name)[0])
    for label_name in labels:
        LabelMembership.create(client=row, label=Label.get_or_create(name=label_name)[0])
    for var_name, value in (variables or {}).items():
        Variable.create(client=row, name=var_name, value=value)
    if unread:
        mark_unread([row.id])
    return row


def inbound(messenger_id: str, text: str, n: int = 0, *, bot_name: str = "shop_tg") -> int:
    """Record a client's message ``n`` through the real ingest path; returns the client id."""
    from store.inbound import InboundMessage, record_inbound

    return record_inbound(
        InboundMessage(
            bot_name=bot_name,
            messenger_id=messenger_id,
            dedup_key=f"test:{messenger_id}:{n}:{text}",
            text=text,
            name=f"Client {messenger_id}",
        )
    ).client_id


def inbound_burst(client_ids: list[int], per_client: int, on: Bot, *, tag: str = "") -> None:
    """``per_client`` inbound messages for each client at once, as a flood would write them
    (``tag`` keeps the dedup keys of several bursts apart)."""
    from store.clock import utcnow
    from store.db import database_proxy
    from store.models import Message

    now = utcnow()
    rows = [
        {
            "client": cid,
            "bot": on.id,
            "direction": "in",
            "author_kind": "client",
            "text": f"message {i}",
            "dedup_key": f"burst:{tag}:{cid}:{i}",
            "created_at": now,
            "updated_at": now,
        }
        for cid in client_ids
        for i in range(per_client)
    ]
    with database_proxy.atomic():
        for start in range(0, len(rows), 500):
            Message.insert_many(rows[start : start + 500]).execute()


def block_name(client: Client) -> str | None:
    """The name of the funnel block ``client`` is at; None at none."""
    return None if client.block is None else client.block.name


def block_path(client: Client) -> list[str]:
    """The names of the blocks ``client`` entered, oldest first (its block history)."""
    query = BlockHistory.select().where(BlockHistory.client == client)
    return [h.block.name for h in query.order_by(BlockHistory.entered_at, BlockHistory.id)]
