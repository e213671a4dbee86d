"""Every table of the store, in one place, for SQLite and PostgreSQL alike.

Timestamps are naive UTC (``store.clock.utcnow``). Deleting a client deletes its messages,
variables, memberships and block history (``on_delete="CASCADE"``; SQLite enforces it because
``foreign_keys`` is on). On PostgreSQL the references to clients, labels and lists are not
declared foreign keys but statement-level triggers with the same rules (migration 1430: one
check per statement instead of one per row). The schema itself is created by
``store/migrations``, never by ``create_tables`` in production code: a change here needs a
migration.

A foreign key declared ``index=False`` is not unindexed: a composite index or primary key of
its table leads with it (migration 0310 dropped the duplicate single-column ones), or a partial
index of its non-NULL values (``_index_not_null``, migration 1920).
"""

from __future__ import annotations

from typing import Final

import peewee as pw

from store.clock import utcnow
from store.db import BaseModel
from store.fields import JSONField

BOT_KINDS: Final = ("telegram", "whatsapp", "email")
ROLES: Final = ("admin", "operator")
DIRECTIONS: Final = ("in", "out")
AUTHOR_KINDS: Final = ("client", "bot", "operator", "comment", "system")
DELIVERY_STATUSES: Final = ("queued", "sending", "sent", "delivered", "read", "failed")
JOB_KINDS: Final = ("broadcast", "resend_failed")
JOB_STATES: Final = ("pending", "running", "done", "cancelled", "failed")
CAMPAIGN_STATUSES: Final = ("draft", "scheduled", "sending", "paused", "done", "cancelled")
# A recipient's outcome; ``uncertain``: the send timed out and may have arrived (never resent).
RECIPIENT_STATUSES: Final = ("pending", "queued", "sent", "failed", "uncertain", "skipped")
# Delivery lanes (``Message.priority``, ``Job.priority``): lower goes first.
PRIORITY_INTERACTIVE: Final = 0  # an operator's reply, /write_*, F1/F2
PRIORITY_BULK: Final = 1  # broadcast and resend-failed jobs
PRIORITIES: Final = (PRIORITY_INTERACTIVE, PRIORITY_BULK)


class Bot(BaseModel):
    """One connected messenger account, mirrored from the configuration by name."""

    id = pw.AutoField()
    name = pw.CharField(max_length=64, unique=True)
    kind = pw.CharField(max_length=16)
    created_at = pw.DateTimeField(default=utcnow)


class Operator(BaseModel):
    """A member of staff, known to the admin bot by Telegram user id."""

    id = pw.AutoField()
    telegram_id = pw.BigIntegerField(unique=True)
    role = pw.CharField(max_length=16, default="operator")
    name = pw.CharField(max_length=200)
    email = pw.CharField(max_length=320, null=True)
    on_shift = pw.BooleanField(default=False)
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Block(BaseModel):
    """A named funnel block (there is no funnel editor here: blocks are names)."""

    id = pw.AutoField()
    name = pw.CharField(max_length=200, unique=True)


class Client(BaseModel):
    """One person as seen through one bot; unique per (bot, messenger id)."""

    id = pw.AutoField()
    # Not indexed alone: (bot, messenger_id) and (bot, bsuid) serve it (migration 1421).
    bot = pw.ForeignKeyField(Bot, backref="clients", on_delete="CASCADE", index=False)
    bot_id: int
    messenger_id = pw.CharField(max_length=320)
    name = pw.CharField(max_length=400, default="")
    username = pw.CharField(max_length=200, null=True)
    language = pw.CharField(max_length=16, null=True)
    avatar_url = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow, index=True)
    # Indexed with pinned only (the list order): migration 1922.
    last_action_at = pw.DateTimeField(default=utcnow)
    block = pw.ForeignKeyField(Block, null=True, on_delete="SET NULL", index=False)
    block_id: int | None
    tag = pw.CharField(max_length=200, null=True)
    # Whole, NULLs too (migration 1923): SQLite's counts scan it in id order.
    responsible = pw.ForeignKeyField(Operator, null=True, on_delete="SET NULL", index=True)
    responsible_id: int | None
    deal_stage = pw.CharField(max_length=200, null=True)
    blocked = pw.BooleanField(default=False)
    unsubscribed = pw.BooleanField(default=False)
    paused = pw.BooleanField(default=False)
    pinned = pw.BooleanField(default=False)
    # WhatsApp's business-scoped user id, when known (the messenger id is the phone if known)
    bsuid = pw.CharField(max_length=160, null=True)

    class Meta:
        indexes = (
            (("bot", "messenger_id"), True),
            (("pinned", "last_action_at"), False),
            (("pinned", "created_at"), False),
        )


def _index_not_null(model: type[BaseModel], *fields: pw.Field, unique: bool = False) -> None:
    """Index ``fields`` of the rows whose last field is not NULL (migration 1920): every query
    looks these columns up by ``=`` / ``IN``, which implies NOT NULL, so the NULL rows' entries
    were only cost (a bulk delete changes every page of every index)."""
    model.add_index(model.index(*fields, unique=unique, where=fields[-1].is_null(False)))


_index_not_null(Client, Client.bot, Client.bsuid, unique=True)
_index_not_null(Client, Client.deal_stage)
_index_not_null(Client, Client.block)


class ClientUnread(BaseModel):
    """An unread client (SPEC F10 Unanswered, F15 counters; migration 1910): a row while the
    client has incoming messages nobody opened. Narrow, so that marking clients read or
    unread writes no ``client`` row (on PostgreSQL a change of an indexed ``client`` column
    wrote all of its indexes). ``responsible`` is a copy of the client's, kept in step by
    every writer of ``Client.responsible`` (``store.clients.unread.follow_responsible``), so
    that the Unanswered tab by operator and an operator's badge are counted here alone.
    Written only through ``store.clients.unread`` (and ingest's batched insert)."""

    client = pw.ForeignKeyField(Client, primary_key=True, backref="unread_row", on_delete="CASCADE")
    client_id: int
    responsible = pw.ForeignKeyField(Operator, null=True, on_delete="SET NULL", index=False)
    responsible_id: int | None

    class Meta:
        table_name = "client_unread"
        indexes = ((("responsible", "client"), False),)


class BlockHistory(BaseModel):
    """Every block a client entered, in order."""

    id = pw.AutoField()
    client = pw.ForeignKeyField(Client, backref="block_history", on_delete="CASCADE", index=False)
    client_id: int
    block = pw.ForeignKeyField(Block, on_delete="CASCADE")
    block_id: int
    entered_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("client", "entered_at"), False),)


class MailingList(BaseModel):
    """A named mailing list (F9 list-add / list-remove, F11 list filters)."""

    id = pw.AutoField()
    name = pw.CharField(max_length=200, unique=True)

    class Meta:
        table_name = "mailing_list"


class ListMembership(BaseModel):
    client = pw.ForeignKeyField(Client, on_delete="CASCADE", index=False)
    client_id: int
    mailing_list = pw.ForeignKeyField(MailingList, on_delete="CASCADE", index=False)
    mailing_list_id: int

    class Meta:
        primary_key = pw.CompositeKey("client", "mailing_list")
        indexes = ((("mailing_list", "client"), False),)


class Label(BaseModel):
    """A named label / mark."""

    id = pw.AutoField()
    name = pw.CharField(max_length=200, unique=True)


class LabelMembership(BaseModel):
    client = pw.ForeignKeyField(Client, on_delete="CASCADE", index=False)
    client_id: int
    label = pw.ForeignKeyField(Label, on_delete="CASCADE", index=False)
    label_id: int

    class Meta:
        primary_key = pw.CompositeKey("client", "label")
        indexes = ((("label", "client"), False),)


class Variable(BaseModel):
    """A custom variable of a client: name -> value, one value per name."""

    id = pw.AutoField()
    client = pw.ForeignKeyField(Client, backref="variables", on_delete="CASCADE", index=False)
    client_id: int
    name = pw.CharField(max_length=200)
    value = pw.TextField(default="")

    class Meta:
        indexes = (
            (("client", "name"), True),
            (("name", "value", "client"), False),  # covering (migration 0311)
        )


# Indexes only PostgreSQL has, made by migrations rather than the models (SQLite does without
# them): table -> index names. ``variable (value, client_id)``: PostgreSQL 15 cannot skip-scan
# the covering index for ``var:=VALUE`` (migration 1450).
POSTGRES_ONLY_INDEXES: dict[str, frozenset[str]] = {
    "variable": frozenset({"variable_value_client_id"}),
}


class MediaUpload(BaseModel):
    """A file a platform already holds for one bot: the Telegram ``file_id`` or WhatsApp media
    id it answered for a content key (``store.media_uploads``), so later recipients get the file
    by id instead of another upload. ``bot`` is the configured name."""

    id = pw.AutoField()
    bot = pw.CharField(max_length=64)
    content_key = pw.CharField(max_length=128)
    file_id = pw.CharField(max_length=512)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "media_upload"
        indexes = ((("bot", "content_key"), True),)


class Job(BaseModel):
    """A long-running bulk send (broadcast, resend-failed) with progress and cancel."""

    id = pw.AutoField()
    kind = pw.CharField(max_length=32)
    state = pw.CharField(max_length=16, default="pending", index=True)
    filter_text = pw.TextField(default="")
    payload = JSONField(default=dict)
    total = pw.IntegerField(default=0)
    sent = pw.IntegerField(default=0)
    failed = pw.IntegerField(default=0)
    skipped = pw.IntegerField(default=0)
    interval_s = pw.FloatField(default=0.0)
    cancel_requested = pw.BooleanField(default=False)
    created_by = pw.ForeignKeyField(Operator, null=True, on_delete="SET NULL")
    created_by_id: int | None
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    error = pw.TextField(null=True)
    # The lane of the job's messages (``PRIORITIES``); jobs are bulk.
    priority = pw.SmallIntegerField(default=PRIORITY_BULK)


class Message(BaseModel):
    """One message of a dialog, in or out; outbound ones are the delivery outbox.

    ``dedup_key`` makes ingest idempotent: a platform's redelivery of the same update
    (Telegram ``update_id``, WhatsApp ``wamid``, email ``Message-ID``) stores one row.
    ``priority``: the delivery lane (``PRIORITIES``, lower first). ``claimed_by``: the worker
    (``WorkerLease.worker_id``) sending the row while it is ``sending``.
    """

    id = pw.AutoField()
    client = pw.ForeignKeyField(Client, backref="messages", on_delete="CASCADE", index=False)
    client_id: int
    bot = pw.ForeignKeyField(Bot, on_delete="CASCADE", index=False)
    bot_id: int
    direction = pw.CharField(max_length=3)
    author_kind = pw.CharField(max_length=16)
    operator = pw.ForeignKeyField(Operator, null=True, on_delete="SET NULL", index=False)
    operator_id: int | None
    text = pw.TextField(default="")
    subject = pw.TextField(null=True)
    attachments = JSONField(default=list)
    extra = JSONField(default=dict)
    platform_message_id = pw.CharField(max_length=512, null=True)
    dedup_key = pw.CharField(max_length=512, null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    status = pw.CharField(max_length=16, null=True)
    error_code = pw.CharField(max_length=64, null=True)
    error_text = pw.TextField(null=True)
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField(null=True)
    job = pw.ForeignKeyField(Job, null=True, on_delete="SET NULL", index=False)
    job_id: int | None
    priority = pw.SmallIntegerField(default=PRIORITY_INTERACTIVE)
    claimed_by = pw.CharField(max_length=64, null=True)

    class Meta:
        indexes = ((("client", "created_at"), False),)


# The outbox (migration 1921): rows with a status (not incoming messages nor comments).
Message.add_index(
    Message.index(
        Message.status,
        Message.priority,
        Message.next_attempt_at,
        where=Message.status.is_null(False),
        name="message_status_priority_next_attempt_at",
    )
)
_index_not_null(Message, Message.bot, Message.dedup_key, unique=True)  # ingest's dedup
_index_not_null(Message, Message.bot, Message.platform_message_id)  # receipts
_index_not_null(Message, Message.job)
_index_not_null(Message, Message.operator)


class SavedFilter(BaseModel):
    """A filter saved by an operator under a name (F12)."""

    id = pw.AutoField()
    operator = pw.ForeignKeyField(Operator, backref="saved_filters", on_delete="CASCADE")
    operator_id: int
    name = pw.CharField(max_length=100)
    query = pw.TextField()
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("operator", "name"), True),)


class OperatorPreference(BaseModel):
    """Per-operator display settings: card preview fields (F6) and chat view (F7)."""

    id = pw.AutoField()
    operator = pw.ForeignKeyField(Operator, unique=True, on_delete="CASCADE")
    operator_id: int
    preview_fields = JSONField(default=list)
    preview_variables = JSONField(default=list)
    chat_view = JSONField(default=list)


class OperatorGrant(BaseModel):
    """One operator's override of their role's capability: granted (True) or revoked (False)."""

    id = pw.AutoField()
    operator = pw.ForeignKeyField(Operator, on_delete="CASCADE")
    operator_id: int
    capability = pw.CharField(max_length=32)
    granted = pw.BooleanField()

    class Meta:
        table_name = "operator_grant"
        indexes = ((("operator", "capability"), True),)


class AuditLog(BaseModel):
    """One executed action: who, what, on which filter, how many clients."""

    id = pw.AutoField()
    operator = pw.ForeignKeyField(Operator, null=True, on_delete="SET NULL")
    operator_id: int | None
    action = pw.CharField(max_length=64)
    filter_text = pw.TextField(default="")
    count = pw.IntegerField(default=0)
    detail = JSONField(default=dict)
    created_at = pw.DateTimeField(default=utcnow, index=True)


class MailboxState(BaseModel):
    """Where an email bot's IMAP ingest stands: UIDVALIDITY and the last UID stored."""

    id = pw.AutoField()
    bot = pw.ForeignKeyField(Bot, unique=True, on_delete="CASCADE")
    bot_id: int
    folder = pw.CharField(max_length=200, default="INBOX")
    uidvalidity = pw.BigIntegerField(null=True)
    last_uid = pw.BigIntegerField(default=0)
    updated_at = pw.DateTimeField(default=utcnow)


class EarlyReceipt(BaseModel):
    """A delivery receipt for an id none of our messages carries yet: the platform reported on
    a message before the sender recorded the id the platform gave it (``store.delivery_status``
    applies it then), or a message that is not ours (dropped after a day)."""

    id = pw.AutoField()
    bot = pw.ForeignKeyField(Bot, on_delete="CASCADE")
    bot_id: int
    platform_message_id = pw.CharField(max_length=512)
    status = pw.CharField(max_length=16)
    error_code = pw.CharField(max_length=64, null=True)
    error_text = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("platform_message_id",), False),)


class ProjectSetting(BaseModel):
    """Project-wide key/value settings kept in the store (auto-assign, generated secrets)."""

    key = pw.CharField(max_length=200, primary_key=True)
    value = JSONField(null=True)
    updated_at = pw.DateTimeField(default=utcnow)


class AdminNotice(BaseModel):
    """A message the admin bot sent an operator about a client (a notification: a Telegram
    reply to it writes to that client) or a live message (a job's progress) that the bot
    refreshes by pressing ``live`` (callback data) until the answer is no longer live, when
    ``final`` is set; ``job`` is the job a progress message shows.
    """

    id = pw.AutoField()
    operator = pw.ForeignKeyField(Operator, on_delete="CASCADE")
    operator_id: int
    chat_id = pw.BigIntegerField()
    message_id = pw.BigIntegerField(default=0)
    client = pw.ForeignKeyField(Client, null=True, on_delete="CASCADE")
    client_id: int | None
    job = pw.ForeignKeyField(Job, null=True, on_delete="CASCADE")
    job_id: int | None
    final = pw.BooleanField(default=False)
    created_at = pw.DateTimeField(default=utcnow, index=True)
    updated_at = pw.DateTimeField(default=utcnow)
    live = pw.CharField(max_length=64, null=True)

    class Meta:
        table_name = "admin_notice"
        indexes = (
            (("chat_id", "message_id"), False),
            (("job", "operator"), True),
        )


class WorkerLease(BaseModel):
    """A sending process's lease: rows it claimed (``Message.claimed_by``) are its own while
    ``heartbeat_at`` (naive UTC) is recent; after that they are given to other workers."""

    worker_id = pw.CharField(max_length=64, primary_key=True)
    host = pw.CharField(max_length=255, default="")
    pid = pw.IntegerField(default=0)
    started_at = pw.DateTimeField(default=utcnow)
    heartbeat_at = pw.DateTimeField(default=utcnow, index=True)
    threads = pw.IntegerField(default=0)  # sending threads of the process (0: not known)


class BusinessConnection(BaseModel):
    """A Telegram Business account connected to one of our bots (``business: true``): the
    bot answers in the owner's private chats. ``can_reply`` and ``enabled`` follow the
    owner's settings (``business_connection`` updates); replies stop when either is false.
    """

    id = pw.AutoField()
    bot = pw.ForeignKeyField(Bot, on_delete="CASCADE", index=False)
    bot_id: int
    connection_id = pw.CharField(max_length=200)
    owner_user_id = pw.BigIntegerField()
    owner_name = pw.CharField(max_length=400, default="")
    owner_username = pw.CharField(max_length=200, null=True)
    user_chat_id = pw.BigIntegerField(null=True)
    can_reply = pw.BooleanField(default=False)
    enabled = pw.BooleanField(default=True)
    rights = JSONField(default=dict)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "business_connection"
        indexes = ((("bot", "connection_id"), True),)


class UnparsedItem(BaseModel):
    """An inbound item a channel could not use (a webhook's message without a sender, an update
    of the wrong shape): why, and the item as received (``payload``, clipped to 64 KiB), kept 7 days
    (``store.unparsed``). ``bot`` is the configured name, kept even if the bot goes away."""

    id = pw.AutoField()
    bot = pw.CharField(max_length=64)
    channel = pw.CharField(max_length=16)
    reason = pw.CharField(max_length=200)
    detail = pw.TextField(default="")
    payload = pw.TextField(default="")
    received_at = pw.DateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "unparsed_item"


class Campaign(BaseModel):
    """A campaign (issue 18): content (one per A/B variant) to a filter's clients, frozen at
    launch, sent from ``start_at`` (None: at once) paced over ``spread_s`` seconds.

    ``elapsed_s`` is the campaign's own sending clock: it advances only while the campaign is
    sending outside quiet hours (``store.campaigns.schedule``), and recipients are due when it
    passes their ``slot_s``. ``version`` makes each tick a compare-and-set: of any number of
    processes ticking, one advances the clock and enqueues the due slice.
    """

    id = pw.AutoField()
    name = pw.CharField(max_length=200)
    filter_text = pw.TextField(default="")
    variants = JSONField(default=list)
    status = pw.CharField(max_length=16, default="draft", index=True)
    start_at = pw.DateTimeField(null=True)
    spread_s = pw.FloatField(default=0.0)
    live = pw.BooleanField(default=False)
    created_by = pw.ForeignKeyField(Operator, null=True, on_delete="SET NULL")
    created_by_id: int | None
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    started_at = pw.DateTimeField(null=True)
    finished_at = pw.DateTimeField(null=True)
    elapsed_s = pw.FloatField(default=0.0)
    ticked_at = pw.DateTimeField(null=True)
    version = pw.IntegerField(default=0)
    total = pw.IntegerField(default=0)
    error = pw.TextField(null=True)


class CampaignRecipient(BaseModel):
    """One client of a campaign's frozen audience: at most one outbox row ever
    (``message_id``, dedup key ``campaign:<id>:<client>``); ``slot_s``: when it is due on the
    campaign's clock; ``reason``: why it was skipped or failed.

    Lean on purpose, a freeze writes 100,000 of them in one statement (issue 18 item 8): the
    primary key (client, campaign) is also the index the client's cascade needs; the campaign
    and the message are plain ids, not foreign keys — PostgreSQL checks a foreign key per row
    (1.5 s per 100,000 under load), campaigns are never deleted, and a message's row is read
    only through the campaign (``store.campaigns.send``), which takes its rows back itself.
    """

    campaign_id = pw.IntegerField()
    client = pw.ForeignKeyField(Client, on_delete="CASCADE", index=False)
    client_id: int
    variant = pw.SmallIntegerField(default=0)
    status = pw.CharField(max_length=16, default="pending")
    reason = pw.CharField(max_length=64, null=True)
    slot_s = pw.FloatField(default=0.0)
    message_id = pw.IntegerField(null=True)
    platform_message_id = pw.CharField(max_length=512, null=True)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "campaign_recipient"
        primary_key = pw.CompositeKey("client", "campaign_id")
        indexes = ((("campaign_id", "status", "slot_s"), False),)


ALL_MODELS: Final[list[type[BaseModel]]] = [
    Bot,
    Operator,
    Block,
    Client,
    BlockHistory,
    MailingList,
    ListMembership,
    Label,
    LabelMembership,
    Variable,
    MediaUpload,
    Job,
    Message,
    SavedFilter,
    OperatorPreference,
    OperatorGrant,
    AuditLog,
    MailboxState,
    ProjectSetting,
    AdminNotice,
    WorkerLease,
    BusinessConnection,
    UnparsedItem,
    Campaign,
    CampaignRecipient,
]
