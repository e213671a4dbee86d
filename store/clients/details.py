"""A page of clients with everything a list shows: bot, block, responsible, lists, labels,
variables. Four set-based queries per page whatever its size (clients with their joins, then
lists, labels and variables of the page's ids): no query per client.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import peewee as pw

from store.clients.unread import unread_flag
from store.clock import iso_local
from store.filters.sql import CLIENT_ID
from store.models import (
    Block,
    Bot,
    Client,
    Label,
    LabelMembership,
    ListMembership,
    MailingList,
    Operator,
    Variable,
)


@dataclass(frozen=True, slots=True)
class ClientDetails:
    """One client as the list shows it; timestamps ISO 8601 in the project's zone."""

    client_id: int
    name: str
    messenger: str
    bot: str
    messenger_id: str
    created_at: str
    last_action_at: str
    block: str | None
    tag: str | None
    deal_stage: str | None
    unread: bool
    pinned: bool
    blocked: bool
    unsubscribed: bool
    paused: bool
    responsible: str | None
    responsible_telegram_id: int | None
    avatar_url: str | None
    lists: list[str]
    labels: list[str]
    variables: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def client_details(ids: Sequence[int], zone: dt.tzinfo) -> list[ClientDetails]:
    """Details of the clients ``ids``, in the order given (ids that do not exist are skipped)."""
    if not ids:
        return []
    ids = list(ids)
    rows: Any = (
        Client.select(
            CLIENT_ID,
            Client.name,
            Bot.kind,
            Bot.name,
            Client.messenger_id,
            Client.created_at,
            Client.last_action_at,
            Block.name,
            Client.tag,
            Client.deal_stage,
            unread_flag(),
            Client.pinned,
            Client.blocked,
            Client.unsubscribed,
            Client.paused,
            Operator.name,
            Operator.telegram_id,
            Client.avatar_url,
        )
        .join(Bot, on=(Client.bot == Bot.id))
        .switch(Client)
        .join(Block, pw.JOIN.LEFT_OUTER, on=(Client.block == Block.id))
        .switch(Client)
        .join(Operator, pw.JOIN.LEFT_OUTER, on=(Client.responsible == Operator.id))
        .where(CLIENT_ID.in_(ids))
        .tuples()
    )
    lists = _names(ListMembership, MailingList, "mailing_list", ids)
    labels = _names(LabelMembership, Label, "label", ids)
    variables: dict[int, dict[str, str]] = defaultdict(dict)
    var_rows: Any = (
        Variable.select(Variable.client, Variable.name, Variable.value)
        .where(Variable.client.in_(ids))
        .order_by(Variable.name)
        .tuples()
    )
    for client_id, name, value in var_rows:
        variables[client_id][name] = value
    by_id: dict[int, ClientDetails] = {}
    for row in rows:
        cid, name, kind, bot, mid, created, last, block, tag, stage = row[:10]
        unread, pinned, blocked, unsub, paused, op_name, op_tg, avatar = row[10:]
        by_id[cid] = ClientDetails(
            client_id=cid,
            name=name,
            messenger=kind,
            bot=bot,
            messenger_id=mid,
            created_at=iso_local(created, zone),
            last_action_at=iso_local(last, zone),
            block=block,
            tag=tag,
            deal_stage=stage,
            unread=bool(unread),
            pinned=bool(pinned),
            blocked=bool(blocked),
            unsubscribed=bool(unsub),
            paused=bool(paused),
            responsible=op_name,
            responsible_telegram_id=op_tg,
            avatar_url=avatar,
            lists=lists.get(cid, []),
            labels=labels.get(cid, []),
            variables=dict(variables.get(cid, {})),
        )
    return [by_id[i] for i in ids if i in by_id]


def _names(
    membership: type[pw.Model], named: type[pw.Model], column: str, ids: list[int]
) -> dict[int, list[str]]:
    fields: Any = membership._meta.fields
    name_field: Any = named._meta.fields["name"]
    query: Any = (
        membership.select(fields["client"], name_field)
        .join(named, on=(fields[column] == named._meta.primary_key))
        .where(fields["client"].in_(ids))
        .order_by(name_field)
        .tuples()
    )
    result: dict[int, list[str]] = defaultdict(list)
    for client_id, name in query:
        result[client_id].append(name)
    return result
