"""Telegram Business connections of the bots (issue 16 item 3)."""

from peewee import *


def up(migrator, db):
    class Bot(Model):
        class Meta:
            database = db
            table_name = "bot"

    class BusinessConnection(Model):
        bot = ForeignKeyField(Bot, on_delete="CASCADE", index=False)
        connection_id = CharField(max_length=200)
        owner_user_id = BigIntegerField()
        owner_name = CharField(max_length=400, default="")
        owner_username = CharField(max_length=200, null=True)
        user_chat_id = BigIntegerField(null=True)
        can_reply = BooleanField(default=False)
        enabled = BooleanField(default=True)
        rights = TextField(default="{}")
        created_at = DateTimeField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "business_connection"
            indexes = ((("bot", "connection_id"), True),)

    db.create_tables([BusinessConnection])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("business_connection"))
