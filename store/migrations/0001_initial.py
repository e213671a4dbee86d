"""The initial schema: a frozen copy of store.models as of issue 2 (JSON columns are TEXT)."""

from peewee import *


def up(migrator, db):
    class Operator(Model):
        telegram_id = BigIntegerField(unique=True)
        role = CharField(max_length=16, default="operator")
        name = CharField(max_length=200)
        email = CharField(null=True, max_length=320)
        on_shift = BooleanField(default=False)
        active = BooleanField(default=True)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "operator"

    db.create_tables([Operator])

    class AuditLog(Model):
        operator = ForeignKeyField(Operator, null=True, on_delete="SET NULL")
        action = CharField(max_length=64)
        filter_text = TextField(default="")
        count = IntegerField(default=0)
        detail = TextField(default="{}")
        created_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "audit_log"

    db.create_tables([AuditLog])

    class Block(Model):
        name = CharField(unique=True, max_length=200)

        class Meta:
            database = db
            table_name = "block"

    db.create_tables([Block])

    class Bot(Model):
        name = CharField(unique=True, max_length=64)
        kind = CharField(max_length=16)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "bot"

    db.create_tables([Bot])

    class Client(Model):
        bot = ForeignKeyField(Bot, on_delete="CASCADE")
        messenger_id = CharField(max_length=320)
        name = CharField(max_length=400, default="")
        username = CharField(null=True, max_length=200)
        language = CharField(null=True, max_length=16)
        avatar_url = TextField(null=True)
        created_at = DateTimeField(index=True)
        last_action_at = DateTimeField(index=True)
        block = ForeignKeyField(Block, null=True, on_delete="SET NULL")
        tag = CharField(null=True, max_length=200)
        responsible = ForeignKeyField(Operator, null=True, on_delete="SET NULL")
        deal_stage = CharField(index=True, null=True, max_length=200)
        blocked = BooleanField(default=False)
        unsubscribed = BooleanField(default=False)
        paused = BooleanField(default=False)
        pinned = BooleanField(default=False)
        unread = BooleanField(index=True, default=False)

        class Meta:
            database = db
            table_name = "client"
            indexes = (
                (("bot", "messenger_id"), True),
                (("pinned", "last_action_at"), False),
                (("pinned", "created_at"), False),
            )

    db.create_tables([Client])

    class BlockHistory(Model):
        client = ForeignKeyField(Client, on_delete="CASCADE")
        block = ForeignKeyField(Block, on_delete="CASCADE")
        entered_at = DateTimeField()

        class Meta:
            database = db
            table_name = "block_history"
            indexes = ((("client", "entered_at"), False),)

    db.create_tables([BlockHistory])

    class Job(Model):
        kind = CharField(max_length=32)
        state = CharField(index=True, max_length=16, default="pending")
        filter_text = TextField(default="")
        payload = TextField(default="{}")
        total = IntegerField(default=0)
        sent = IntegerField(default=0)
        failed = IntegerField(default=0)
        skipped = IntegerField(default=0)
        interval_s = FloatField(default=0.0)
        cancel_requested = BooleanField(default=False)
        created_by = ForeignKeyField(Operator, null=True, on_delete="SET NULL")
        created_at = DateTimeField()
        updated_at = DateTimeField()
        error = TextField(null=True)

        class Meta:
            database = db
            table_name = "job"

    db.create_tables([Job])

    class Label(Model):
        name = CharField(unique=True, max_length=200)

        class Meta:
            database = db
            table_name = "label"

    db.create_tables([Label])

    class LabelMembership(Model):
        client = ForeignKeyField(Client, on_delete="CASCADE")
        label = ForeignKeyField(Label, on_delete="CASCADE")

        class Meta:
            database = db
            table_name = "label_membership"
            primary_key = CompositeKey("client", "label")
            indexes = ((("label", "client"), False),)

    db.create_tables([LabelMembership])

    class MailingList(Model):
        name = CharField(unique=True, max_length=200)

        class Meta:
            database = db
            table_name = "mailing_list"

    db.create_tables([MailingList])

    class ListMembership(Model):
        client = ForeignKeyField(Client, on_delete="CASCADE")
        mailing_list = ForeignKeyField(MailingList, on_delete="CASCADE")

        class Meta:
            database = db
            table_name = "list_membership"
            primary_key = CompositeKey("client", "mailing_list")
            indexes = ((("mailing_list", "client"), False),)

    db.create_tables([ListMembership])

    class MailboxState(Model):
        bot = ForeignKeyField(Bot, unique=True, on_delete="CASCADE")
        folder = CharField(max_length=200, default="INBOX")
        uidvalidity = BigIntegerField(null=True)
        last_uid = BigIntegerField(default=0)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "mailbox_state"

    db.create_tables([MailboxState])

    class Message(Model):
        client = ForeignKeyField(Client, on_delete="CASCADE")
        bot = ForeignKeyField(Bot, on_delete="CASCADE")
        direction = CharField(max_length=3)
        author_kind = CharField(max_length=16)
        operator = ForeignKeyField(Operator, null=True, on_delete="SET NULL")
        text = TextField(default="")
        subject = TextField(null=True)
        attachments = TextField(default="[]")
        extra = TextField(default="{}")
        platform_message_id = CharField(null=True, max_length=512)
        dedup_key = CharField(null=True, max_length=512)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        status = CharField(null=True, max_length=16)
        error_code = CharField(null=True, max_length=64)
        error_text = TextField(null=True)
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField(null=True)
        job = ForeignKeyField(Job, null=True, on_delete="SET NULL")

        class Meta:
            database = db
            table_name = "message"
            indexes = (
                (("bot", "dedup_key"), True),
                (("client", "created_at"), False),
                (("status", "next_attempt_at"), False),
                (("bot", "platform_message_id"), False),
                (("job",), False),
            )

    db.create_tables([Message])

    class OperatorPreference(Model):
        operator = ForeignKeyField(Operator, unique=True, on_delete="CASCADE")
        preview_fields = TextField(default="[]")
        preview_variables = TextField(default="[]")
        chat_view = TextField(default="[]")

        class Meta:
            database = db
            table_name = "operator_preference"

    db.create_tables([OperatorPreference])

    class ProjectSetting(Model):
        key = CharField(primary_key=True, max_length=200)
        value = TextField(null=True)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "project_setting"

    db.create_tables([ProjectSetting])

    class SavedFilter(Model):
        operator = ForeignKeyField(Operator, on_delete="CASCADE")
        name = CharField(max_length=100)
        query = TextField()
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "saved_filter"
            indexes = ((("operator", "name"), True),)

    db.create_tables([SavedFilter])

    class Variable(Model):
        client = ForeignKeyField(Client, on_delete="CASCADE")
        name = CharField(max_length=200)
        value = TextField(default="")

        class Meta:
            database = db
            table_name = "variable"
            indexes = ((("client", "name"), True), (("name", "value"), False))

    db.create_tables([Variable])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("variable"))
    migrator.migrate(migrator.drop_table("saved_filter"))
    migrator.migrate(migrator.drop_table("project_setting"))
    migrator.migrate(migrator.drop_table("operator_preference"))
    migrator.migrate(migrator.drop_table("message"))
    migrator.migrate(migrator.drop_table("mailbox_state"))
    migrator.migrate(migrator.drop_table("list_membership"))
    migrator.migrate(migrator.drop_table("mailing_list"))
    migrator.migrate(migrator.drop_table("label_membership"))
    migrator.migrate(migrator.drop_table("label"))
    migrator.migrate(migrator.drop_table("job"))
    migrator.migrate(migrator.drop_table("block_history"))
    migrator.migrate(migrator.drop_table("client"))
    migrator.migrate(migrator.drop_table("bot"))
    migrator.migrate(migrator.drop_table("block"))
    migrator.migrate(migrator.drop_table("audit_log"))
    migrator.migrate(migrator.drop_table("operator"))
