"""Delivery receipts that arrive before the sender recorded the platform's id (issue 5)."""

from peewee import *


def up(migrator, db):
    class Bot(Model):
        class Meta:
            database = db
            table_name = "bot"

    class EarlyReceipt(Model):
        bot = ForeignKeyField(Bot, on_delete="CASCADE")
        platform_message_id = CharField(max_length=512)
        status = CharField(max_length=16)
        error_code = CharField(max_length=64, null=True)
        error_text = TextField(null=True)
        created_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "early_receipt"
            indexes = ((("platform_message_id",), False),)

    db.create_tables([EarlyReceipt])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("early_receipt"))
