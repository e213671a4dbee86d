"""One client per person when a platform knows them by two ids: WhatsApp's phone and BSUID.

WhatsApp identifies a user by phone number (``wa_id``) and by a business-scoped user id
(BSUID, ``contacts[].user_id``, e.g. ``US.13491208655302741918``); a user who adopted a
username may arrive with the BSUID only. The rules:

* the client's messenger id is the phone number (E.164) whenever one is known, else the
  BSUID; ``Client.bsuid`` keeps the BSUID whenever one is known (unique per bot);
* a message with a BSUID only is filed under the client with that BSUID, or starts a client
  keyed by it;
* a message with both finds the client by either: a BSUID-only client is re-keyed to the
  phone; when a phone client and a BSUID-only client both exist they are merged into the
  phone client (its messages, lists, labels and variables move over; the phone client's own
  values win) — they were always the same person;
* a ``system`` message ``user_changed_number`` moves the client to the new number and the
  new BSUID Meta issues with it (``follow_changes``; merged into a client the new number
  already has); ``user_changed_user_id`` records the new BSUID.

``resolve`` runs before the events are recorded and ``attach`` after (so that a new client
is created by the one inbound write path, with its auto-assignment).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import peewee

from store.clients.unread import follow_responsible, is_unread, mark_unread
from store.db import write_transaction
from store.inbound import InboundMessage
from store.models import Bot, Client, LabelMembership, ListMembership, Message, Variable

log = logging.getLogger("switchboard.store")
BSUID_KEY = "user_id"  # InboundMessage.extra key carrying the BSUID of the sender


def bsuid_of(event: InboundMessage) -> str | None:
    value = event.extra.get(BSUID_KEY)
    return value if isinstance(value, str) and value else None


def resolve(events: Sequence[InboundMessage]) -> list[InboundMessage]:
    """``events`` with each messenger id set to the client that already has the sender's
    phone or BSUID (merging or re-keying clients as the rules above say). Blocking."""
    out: list[InboundMessage] = []
    bots: dict[str, int | None] = {}
    for event in events:
        bsuid = bsuid_of(event)
        if bsuid is None:
            out.append(event)
            continue
        if event.bot_name not in bots:
            bots[event.bot_name] = Bot.select(Bot.id).where(Bot.name == event.bot_name).scalar()
        bot_id = bots[event.bot_name]
        if bot_id is None:  # record_inbound reports the unknown bot
            out.append(event)
            continue
        messenger_id = _resolve_one(bot_id, event.messenger_id, bsuid)
        out.append(dataclasses.replace(event, messenger_id=messenger_id))
    return out


def _resolve_one(bot_id: int, messenger_id: str, bsuid: str) -> str:
    has_phone = messenger_id != bsuid
    with write_transaction():
        by_bsuid = Client.get_or_none((Client.bot == bot_id) & (Client.bsuid == bsuid))
        if not has_phone:
            return by_bsuid.messenger_id if by_bsuid is not None else bsuid
        by_phone = Client.get_or_none(
            (Client.bot == bot_id) & (Client.messenger_id == messenger_id)
        )
        if by_bsuid is None or (by_phone is not None and by_phone.id == by_bsuid.id):
            return messenger_id  # attach() records the BSUID on the phone client
        if by_phone is None:
            # Known by BSUID only until now: the phone is the id staff and exports know.
            Client.update(messenger_id=messenger_id).where(Client.id == by_bsuid.id).execute()
            return messenger_id
        merge_clients(keep=by_phone, gone=by_bsuid)
        return messenger_id


def merge_clients(*, keep: Client, gone: Client) -> None:
    """Fold client ``gone`` into ``keep`` (same bot): messages, lists, labels and variables
    move over (``keep``'s variables win), the flags combine, ``gone`` is deleted and its BSUID
    goes to ``keep``. Call inside a transaction."""
    Message.update(client=keep.id).where(Message.client == gone.id).execute()
    memberships: list[tuple[Any, str]] = [
        (ListMembership, "mailing_list"),
        (LabelMembership, "label"),
    ]
    for model, column in memberships:
        found: Any = model.select(getattr(model, column)).where(model.client == gone.id)
        rows = [{model.client: keep.id, getattr(model, column): row[0]} for row in found.tuples()]
        if rows:
            model.insert_many(rows).on_conflict_ignore().execute()
    theirs: Any = Variable.select(Variable.name, Variable.value).where(Variable.client == gone.id)
    values = [
        {Variable.client: keep.id, Variable.name: row[0], Variable.value: row[1]}
        for row in theirs.tuples()
    ]
    if values:
        Variable.insert_many(values).on_conflict_ignore().execute()
    bsuid = gone.bsuid
    gone_unread = is_unread(gone.id)
    Client.delete().where(Client.id == gone.id).execute()  # cascades what stayed behind
    responsible = keep.responsible_id or gone.responsible_id
    Client.update(
        bsuid=bsuid,
        created_at=min(keep.created_at, gone.created_at),
        last_action_at=max(keep.last_action_at, gone.last_action_at),
        responsible=responsible,
        username=keep.username or gone.username,
    ).where(Client.id == keep.id).execute()
    follow_responsible([keep.id], responsible)  # keep's unread row, if it had one
    if gone_unread:  # unread if either was (with the responsible just set)
        mark_unread([keep.id])
    log.info("merged client %s into %s (the same WhatsApp user by BSUID)", gone.id, keep.id)


def attach(events: Sequence[InboundMessage]) -> None:
    """Record each sender's BSUID on their (now existing) client. Blocking."""
    pairs = {(e.bot_name, e.messenger_id, b) for e in events if (b := bsuid_of(e)) is not None}
    for bot_name, messenger_id, bsuid in sorted(pairs):
        bot_id = Bot.select(Bot.id).where(Bot.name == bot_name).scalar()
        if bot_id is None:
            continue
        try:
            with write_transaction():
                Client.update(bsuid=bsuid).where(
                    (Client.bot == bot_id)
                    & (Client.messenger_id == messenger_id)
                    & (Client.bsuid.is_null() | (Client.bsuid != bsuid))
                ).execute()
        except peewee.IntegrityError:  # another client took it meanwhile: resolve() next time
            log.warning("bsuid of a client of %s is held by another client", bot_name)


def follow_changes(events: Sequence[InboundMessage]) -> None:
    """Apply WhatsApp ``system`` messages about the sender's identity to their client:
    ``user_changed_number`` moves the client to the new number (and the new BSUID Meta issues
    with it; merged into a client the new number already has), ``user_changed_user_id``
    records the new BSUID. Blocking; run after the events are recorded."""
    for event in events:
        system = event.extra.get("system") if event.extra.get("type") == "system" else None
        if not isinstance(system, dict):
            continue
        kind = system.get("type")
        new_phone = str(system.get("wa_id") or system.get("new_wa_id") or "").lstrip("+")
        new_bsuid = system.get("user_id") if isinstance(system.get("user_id"), str) else None
        with write_transaction():
            bot_id = Bot.select(Bot.id).where(Bot.name == event.bot_name).scalar()
            client = Client.get_or_none(
                (Client.bot == bot_id) & (Client.messenger_id == event.messenger_id)
            )
            if client is None:
                continue
            if kind == "user_changed_number" and new_phone.isdigit():
                _move_to_number(client, f"+{new_phone}", new_bsuid)
            elif kind == "user_changed_user_id" and new_bsuid:
                holder = Client.get_or_none((Client.bot == bot_id) & (Client.bsuid == new_bsuid))
                if holder is not None and holder.id != client.id:
                    merge_clients(keep=client, gone=holder)
                Client.update(bsuid=new_bsuid).where(Client.id == client.id).execute()


def _move_to_number(client: Client, phone: str, bsuid: str | None) -> None:
    """The client now writes from ``phone`` (with BSUID ``bsuid``: Meta issues a new one
    with a new number, so the old one is dropped)."""
    other = Client.get_or_none((Client.bot == client.bot_id) & (Client.messenger_id == phone))
    if other is not None and other.id != client.id:
        merge_clients(keep=other, gone=client)
        client = other
    if bsuid is not None:
        holder = Client.get_or_none((Client.bot == client.bot_id) & (Client.bsuid == bsuid))
        if holder is not None and holder.id != client.id:
            merge_clients(keep=client, gone=holder)
    Client.update(messenger_id=phone, bsuid=bsuid).where(Client.id == client.id).execute()
    log.info("client %s moved to a new WhatsApp number", client.id)
