"""Campaigns and their frozen audiences (issue 18)."""

from peewee import *


def up(migrator, db):
    class Operator(Model):
        class Meta:
            database = db
            table_name = "operator"

    class Client(Model):
        class Meta:
            database = db
            table_name = "client"

    class Message(Model):
        class Meta:
            database = db
            table_name = "message"

    class Campaign(Model):
        name = CharField(max_length=200)
        filter_text = TextField(default="")
        variants = TextField(default="[]")
        status = CharField(max_length=16, default="draft", index=True)
        start_at = DateTimeField(null=True)
        spread_s = FloatField(default=0.0)
        live = BooleanField(default=False)
        created_by = ForeignKeyField(Operator, null=True, on_delete="SET NULL")
        created_at = DateTimeField()
        updated_at = DateTimeField()
        started_at = DateTimeField(null=True)
        finished_at = DateTimeField(null=True)
        elapsed_s = FloatField(default=0.0)
        ticked_at = DateTimeField(null=True)
        version = IntegerField(default=0)
        total = IntegerField(default=0)
        error = TextField(null=True)

        class Meta:
            database = db
            table_name = "campaign"

    class CampaignRecipient(Model):
        campaign = ForeignKeyField(Campaign, on_delete="CASCADE", index=False)
        client = ForeignKeyField(Client, on_delete="CASCADE")
        variant = SmallIntegerField(default=0)
        status = CharField(max_length=16, default="pending")
        reason = CharField(max_length=64, null=True)
        slot_s = FloatField(default=0.0)
        message = ForeignKeyField(Message, null=True, on_delete="SET NULL")
        platform_message_id = CharField(max_length=512, null=True)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "campaign_recipient"
            indexes = (
                (("campaign", "client"), True),
                (("campaign", "status", "slot_s"), False),
            )

    db.create_tables([Campaign, CampaignRecipient])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table("campaign_recipient"),
        migrator.drop_table("campaign"),
    )
