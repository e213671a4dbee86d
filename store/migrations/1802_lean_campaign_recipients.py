"""campaign_recipient, leaner for a 100,000-client freeze (issue 18 item 8): primary key
(client_id, campaign_id) instead of an id, a unique index and a client index; campaign_id and
message_id without foreign keys (PostgreSQL checks each per inserted row). The rows are kept."""

from peewee import *

COLUMNS = (
    "campaign_id, client_id, variant, status, reason, slot_s, message_id, "
    "platform_message_id, updated_at"
)


def up(migrator, db):
    class Client(Model):
        class Meta:
            database = db
            table_name = "client"

    class CampaignRecipient(Model):
        campaign_id = IntegerField()
        client = ForeignKeyField(Client, on_delete="CASCADE", index=False)
        variant = SmallIntegerField(default=0)
        status = CharField(max_length=16, default="pending")
        reason = CharField(max_length=64, null=True)
        slot_s = FloatField(default=0.0)
        message_id = IntegerField(null=True)
        platform_message_id = CharField(max_length=512, null=True)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "campaign_recipient"
            primary_key = CompositeKey("client", "campaign_id")
            indexes = ((("campaign_id", "status", "slot_s"), False),)

    # COLUMNS is the constant above: no outside text reaches these statements.
    keep = f"CREATE TABLE campaign_recipient_1801 AS SELECT {COLUMNS} FROM campaign_recipient"  # noqa: S608
    db.execute_sql(keep)
    db.execute_sql("DROP TABLE campaign_recipient")
    db.create_tables([CampaignRecipient])
    copy = (
        f"INSERT INTO campaign_recipient ({COLUMNS}) SELECT {COLUMNS} FROM campaign_recipient_1801"  # noqa: S608
    )
    db.execute_sql(copy)
    db.execute_sql("DROP TABLE campaign_recipient_1801")


def down(migrator, db):
    raise NotImplementedError("1802 keeps no copy of the 1801 shape to go back to")
