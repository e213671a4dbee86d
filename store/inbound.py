"""Recording what a client sent: the one write path every channel adapter's ingest uses.

Adapters normalise a platform payload into ``InboundMessage`` and call ``record_inbound``;
the same ``dedup_key`` twice stores one message (platforms redeliver).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import peewee

from store.assignment import assign_round_robin, autoassign_enabled
from store.bulk_rows import insert_rows, select_rows, update_rows
from store.clients.unread import mark_unread
from store.clock import utcnow
from store.counters import inbound_kind, inbound_stored
from store.db import database_proxy, write_transaction
from store.errors import StoreError
from store.models import Bot, Client, LabelMembership, ListMembership, Message, Variable
from store.sanitize import clean_event


@dataclass(frozen=True, slots=True)
class Attachment:
    """Metadata of a file a message carries; the file itself stays on the platform."""

    kind: str  # photo, document, audio, video, voice, sticker, location, contact, ...
    file_id: str | None = None
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None  # bytes
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        for key in ("file_id", "file_name", "mime_type", "size", "url"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        if self.extra:
            data["extra"] = self.extra
        return data


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A normalised inbound event from any messenger.

    ``dedup_key`` is unique per bot (``tg:update:42``, ``wa:wamid.X``, ``mail:<id@host>``).
    ``name``/``username``/``avatar_url``/``language`` update the client when not None.
    ``variables`` are set on the client (``start_payload`` from a Telegram deep link).
    ``unsubscribed`` (when not None) sets the client's flag: True when they blocked the bot,
    False when they came back (Telegram's ``my_chat_member``).
    ``author_kind="system"`` is a service event (a pin, a reaction): it leaves the client's
    last action alone. ``direction="out"`` with ``author_kind="operator"`` is a message the
    business account's owner wrote in a Telegram Business chat (no delivery status).
    """

    bot_name: str
    messenger_id: str
    dedup_key: str
    text: str = ""
    name: str | None = None
    username: str | None = None
    avatar_url: str | None = None
    language: str | None = None
    attachments: tuple[Attachment, ...] = ()
    platform_message_id: str | None = None
    sent_at: dt.datetime | None = None  # naive UTC; defaults to now
    subject: str | None = None
    author_kind: str = "client"
    extra: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    mark_unread: bool = True
    unsubscribed: bool | None = None
    direction: str = "in"  # "out": written on the client's side by us (a business owner)


@dataclass(frozen=True, slots=True)
class RecordResult:
    client_id: int
    message_id: int | None
    client_created: bool
    duplicate: bool


def get_or_create_client(
    bot: Bot, messenger_id: str, *, name: str | None = None, now: dt.datetime | None = None
) -> tuple[Client, bool]:
    """The client of ``bot`` with ``messenger_id``, created when new (safe under races).

    The look-up and the insert share one ``write_transaction``: on SQLite a read followed by a
    write in a deferred transaction fails at once with "database is locked" when another
    connection committed in between (seen with the service's own writers running); the write
    lock taken first makes this caller wait its turn instead."""
    now = now or utcnow()
    key = (Client.bot == bot) & (Client.messenger_id == messenger_id)
    try:
        with write_transaction():
            client = Client.get_or_none(key)
            if client is not None:
                return client, False
            client = Client.create(
                bot=bot,
                messenger_id=messenger_id,
                name=name or messenger_id,
                created_at=now,
                last_action_at=now,
            )
        return client, True
    except peewee.IntegrityError:
        # PostgreSQL: another writer created it between our read and our insert.
        return Client.get(key), False


def record_inbound(event: InboundMessage) -> RecordResult:
    """Store ``event``: create or update its client, add the message, mark the client unread.

    Runs in one transaction. Raises ``store.errors.NotFound`` when the bot is unknown.
    """
    (result,) = record_inbound_many([event])
    if isinstance(result, StoreError):
        raise result
    return result


def record_inbound_many(events: Sequence[InboundMessage]) -> list[RecordResult | StoreError]:
    """Store several events in one transaction (group commit), with the same outcome as
    ``record_inbound`` on each in turn, in a handful of set-based statements per batch.

    An event whose bot is unknown gets its ``NotFound`` in the list and the others are
    stored; a database error fails the whole batch (nothing is stored). Keep batches to a few
    hundred events (one ``IN`` list each). Every event is first made storable by
    ``store.sanitize.clean_event`` (text cleaned, values clipped, odd timestamps replaced).
    """
    from store.errors import NotFound

    cleaned_at = utcnow()
    events = [clean_event(event, cleaned_at) for event in events]
    results: list[RecordResult | StoreError | None] = [None] * len(events)
    bots = _bots(sorted({event.bot_name for event in events}))
    with write_transaction():
        by_bot: dict[str, list[tuple[int, InboundMessage]]] = {}
        for i, event in enumerate(events):
            if event.bot_name in bots:
                by_bot.setdefault(event.bot_name, []).append((i, event))
            else:
                results[i] = NotFound(f"unknown bot {event.bot_name!r}")
        for name, items in by_bot.items():
            _record_for_bot(bots[name], items, results)
    _count_new(events, results)
    return [r for r in results if r is not None]


def _count_new(
    events: Sequence[InboundMessage], results: Sequence[RecordResult | StoreError | None]
) -> None:
    """Report the committed new messages per (bot, kind) to ``store.counters``."""
    counts: dict[tuple[str, str], int] = {}
    for event, result in zip(events, results, strict=True):
        if isinstance(result, RecordResult) and not result.duplicate:
            key = (event.bot_name, inbound_kind(event))
            counts[key] = counts.get(key, 0) + 1
    inbound_stored((bot, kind, n) for (bot, kind), n in counts.items())


def _bots(names: list[str]) -> dict[str, Bot]:
    """The ``Bot`` rows named ``names``, remembered on the database object: bots are only
    ever added (``store.setup.sync_bots``), never renamed, so a found row stays right."""
    database = database_proxy.obj
    cache: dict[str, Bot] = database.__dict__.setdefault("_sb_inbound_bots", {})
    missing = [name for name in names if name not in cache]
    if missing:
        for bot in Bot.select().where(Bot.name.in_(missing)):
            cache[bot.name] = bot
    return {name: cache[name] for name in names if name in cache}


def _record_for_bot(
    bot: Bot,
    items: list[tuple[int, InboundMessage]],
    results: list[RecordResult | StoreError | None],
) -> None:
    now = utcnow()
    keys = list({event.dedup_key for _, event in items})
    found = select_rows(
        Message,
        [Message.dedup_key, Message.id, Message.client],
        (Message.bot, bot.id),
        Message.dedup_key,
        keys,
    )
    known: dict[str, tuple[int, int]] = {
        key: (message_id, client_id) for key, message_id, client_id in found
    }
    fresh: list[tuple[int, InboundMessage]] = []
    repeats: list[tuple[int, str]] = []  # the same key twice in this batch
    seen: set[str] = set()
    for i, event in items:
        if event.dedup_key in known:
            message_id, client_id = known[event.dedup_key]
            results[i] = RecordResult(client_id, message_id, False, True)
        elif event.dedup_key in seen:
            repeats.append((i, event.dedup_key))
        else:
            seen.add(event.dedup_key)
            fresh.append((i, event))
    clients = _clients_of(bot, fresh, now)
    first_of_new: set[int] = set()
    for i, event in fresh:
        state = clients[event.messenger_id]
        if state.pop("created", False):
            first_of_new.add(i)
    _update_clients(fresh, clients, now)
    _set_variables(fresh, clients)
    inserted = _insert_messages(bot, fresh, clients, now)
    for i, event in fresh:
        client_id = clients[event.messenger_id]["id"]
        if event.dedup_key in inserted:
            results[i] = RecordResult(
                client_id, inserted[event.dedup_key], i in first_of_new, False
            )
        else:  # a concurrent delivery of the same update won the race: one row, not two
            row = Message.get((Message.bot == bot) & (Message.dedup_key == event.dedup_key))
            results[i] = RecordResult(row.client_id, row.id, False, True)
            known[event.dedup_key] = (row.id, row.client_id)
    for i, key in repeats:
        if key in inserted:
            client_id = clients[next(e for _, e in fresh if e.dedup_key == key).messenger_id]["id"]
            results[i] = RecordResult(client_id, inserted[key], False, True)
        else:
            message_id, client_id = known[key]
            results[i] = RecordResult(client_id, message_id, False, True)


CLIENT_STATE = ("name", "username", "avatar_url", "language", "last_action_at")


def _clients_of(
    bot: Bot, fresh: list[tuple[int, InboundMessage]], now: dt.datetime
) -> dict[str, dict[str, Any]]:
    """The current state of every client the events write for, created when new."""
    wanted = list({event.messenger_id for _, event in fresh})
    columns: list[peewee.Field] = [Client.id, Client.messenger_id]
    columns += [getattr(Client, c) for c in CLIENT_STATE]
    names = [column.name for column in columns]
    clients: dict[str, dict[str, Any]] = {}
    for values in select_rows(Client, columns, (Client.bot, bot.id), Client.messenger_id, wanted):
        state = dict(zip(names, values, strict=True))
        clients[state["messenger_id"]] = state
    new: dict[str, dict[Any, Any]] = {}  # first event of each unknown client, in order
    for _, event in fresh:
        if event.messenger_id not in clients and event.messenger_id not in new:
            at = event.sent_at or now
            new[event.messenger_id] = {
                Client.bot: bot.id,
                Client.messenger_id: event.messenger_id,
                Client.name: event.name or event.messenger_id,
                Client.created_at: at,
                Client.last_action_at: at,
            }
    if new:
        inserted = (
            Client.insert_many(list(new.values()))
            .on_conflict_ignore()  # a concurrent writer created it first: not ours
            .returning(*columns)
            .dicts()
            .execute()
        )
        created_ids = []
        for row in cast(Iterable[dict[str, Any]], inserted):
            clients[row["messenger_id"]] = {**row, "created": True}
            created_ids.append(row["id"])
        raced = [m for m in new if m not in clients]
        if raced:
            query = Client.select(*columns).where(
                (Client.bot == bot) & Client.messenger_id.in_(raced)
            )
            for row in cast(Iterable[dict[str, Any]], query.dicts()):
                clients[row["messenger_id"]] = row
        if created_ids and autoassign_enabled():
            for client_id in sorted(created_ids):
                assign_round_robin(client_id)
    return clients


def _update_clients(
    fresh: list[tuple[int, InboundMessage]], clients: dict[str, dict[str, Any]], now: dt.datetime
) -> None:
    """One UPDATE per client: last action, changed profile fields, unsubscribed; then one
    insert of the clients marked unread (``store.clients.unread.mark_unread``: a narrow row
    each, with the client's responsible as ``_clients_of`` left it).

    Service events (``author_kind="system"``: a pin, a reaction, a member joining) leave the
    last action alone: they are not something the client said.
    """
    changes: dict[str, dict[Any, Any]] = {}
    for _, event in fresh:
        state = clients[event.messenger_id]
        update = changes.setdefault(event.messenger_id, {})
        if event.author_kind != "system":  # a service event is not the client's activity
            at = event.sent_at or now
            if at > state["last_action_at"]:
                state["last_action_at"] = at
            update[Client.last_action_at] = state["last_action_at"]
        for attr in ("name", "username", "avatar_url", "language"):
            value = getattr(event, attr)
            if value is not None and value != state[attr]:
                state[attr] = value
                update[getattr(Client, attr)] = value
        if event.unsubscribed is not None:
            update[Client.unsubscribed] = event.unsubscribed
    # Clients that change the same columns share one UPDATE from a set of rows (store.bulk_rows:
    # one bound parameter per column): a batch of messages from different people is one
    # statement, not one each.
    groups: dict[tuple[str, ...], list[str]] = {}
    for messenger_id, update in changes.items():
        if update:
            key = tuple(sorted(column.name for column in update))
            groups.setdefault(key, []).append(messenger_id)
    for names, members in groups.items():
        columns = [getattr(Client, name) for name in names]
        rows = [(clients[m]["id"], *(changes[m][column] for column in columns)) for m in members]
        update_rows(Client, Client.id, columns, rows)
    unread = [clients[event.messenger_id]["id"] for _, event in fresh if event.mark_unread]
    if unread:
        mark_unread(unread)


def _set_variables(
    fresh: list[tuple[int, InboundMessage]], clients: dict[str, dict[str, Any]]
) -> None:
    """Upsert the events' variables in one statement (the last value of a name wins)."""
    values: dict[tuple[int, str], str] = {}
    for _, event in fresh:
        for name, value in event.variables.items():
            values[(clients[event.messenger_id]["id"], name)] = value
    if values:
        insert_rows(
            Variable,
            [Variable.client, Variable.name, Variable.value],
            [(client_id, name, value) for (client_id, name), value in values.items()],
            upsert=([Variable.client, Variable.name], [Variable.value]),
        )


def _insert_messages(
    bot: Bot,
    fresh: list[tuple[int, InboundMessage]],
    clients: dict[str, dict[str, Any]],
    now: dt.datetime,
) -> dict[str, int]:
    """Insert the new messages in one statement; ``{dedup_key: id}`` of the rows inserted
    (a row a concurrent writer inserted first is skipped by ``ON CONFLICT DO NOTHING``)."""
    if not fresh:
        return {}
    # One bound parameter per column (store.bulk_rows): peewee rendering each value into
    # the statement was the biggest cost of serving a webhook (docs/benchmarks.md).
    fields: list[peewee.Field] = [
        Message.client,
        Message.bot,
        Message.direction,
        Message.author_kind,
        Message.text,
        Message.subject,
        Message.attachments,
        Message.extra,
        Message.platform_message_id,
        Message.dedup_key,
        Message.created_at,
        Message.updated_at,
    ]
    rows = [
        (
            clients[event.messenger_id]["id"],
            bot.id,
            event.direction,
            event.author_kind,
            event.text,
            event.subject,
            [a.as_json() for a in event.attachments],
            event.extra,
            event.platform_message_id,
            event.dedup_key,
            event.sent_at or now,
            now,
        )
        for _, event in fresh
    ]
    inserted = insert_rows(
        Message,
        fields,
        rows,
        returning=[Message.dedup_key, Message.id],
        ignore_conflicts=True,
    )
    return dict(cast(Iterable[tuple[str, int]], inserted))


def set_variable(client_id: int, name: str, value: str) -> None:
    """Set one custom variable of a client (insert or replace the value)."""
    (
        Variable.insert(client=client_id, name=name, value=value)
        .on_conflict(
            conflict_target=[Variable.client, Variable.name], update={Variable.value: value}
        )
        .execute()
    )


def last_inbound_at(client_id: int) -> dt.datetime | None:
    """When the client last wrote to us (naive UTC, the platform's timestamp), None if never;
    service events (``author_kind="system"``) do not count.

    One lookup on the ``message (client, created_at)`` index, newest first; WhatsApp's
    24-hour window counts from this moment.
    """
    last = (
        Message.select(Message.created_at)
        .where(
            (Message.client == client_id)
            & (Message.direction == "in")
            & (Message.author_kind != "system")  # a reaction or a pin is not a message
        )
        .order_by(Message.created_at.desc())
        .first()
    )
    return None if last is None else last.created_at


def set_avatar_url(client_id: int, url: str) -> None:
    """Record the avatar of a client, found after its first message (Telegram profile photo)."""
    Client.update(avatar_url=url).where(Client.id == client_id).execute()


def rekey_client(client_id: int, messenger_id: str) -> bool:
    """File client ``client_id`` under ``messenger_id``, the platform's canonical id for them;
    True when their dialog is now under that id.

    When another client of the same bot already has the id (the person wrote in under it, or
    an earlier write was filed there), a client that is only our write — no message from
    them, no lists, labels or variables — is folded into that one: its messages move over and
    it is deleted. Anything more is left as two clients (merging dialogs someone worked on is
    an operator's decision). Blocking store code.
    """
    bot_id = Client.select(Client.bot).where(Client.id == client_id).scalar()
    if bot_id is None:
        return False
    try:
        with write_transaction():
            other = Client.get_or_none(
                (Client.bot == bot_id)
                & (Client.messenger_id == messenger_id)
                & (Client.id != client_id)
            )
            if other is None:
                changed = (
                    Client.update(messenger_id=messenger_id).where(Client.id == client_id).execute()
                )
                return bool(changed)
            if not _only_our_writes(client_id):
                return False
            Message.update(client=other.id).where(Message.client == client_id).execute()
            Client.delete().where(Client.id == client_id).execute()
            return True
    except peewee.IntegrityError:  # the other client was created between look and update
        return False


def _only_our_writes(client_id: int) -> bool:
    """True when nothing but our outbound messages is attached to the client."""
    theirs = Message.select().where((Message.client == client_id) & (Message.direction != "out"))
    return not (
        theirs.exists()
        or ListMembership.select().where(ListMembership.client == client_id).exists()
        or LabelMembership.select().where(LabelMembership.client == client_id).exists()
        or Variable.select().where(Variable.client == client_id).exists()
    )
