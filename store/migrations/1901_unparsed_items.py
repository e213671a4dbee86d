"""Inbound items no channel could use, kept a week for operators (issues 16 and 19)."""

from peewee import *


def up(migrator, db):
    class UnparsedItem(Model):
        bot = CharField(max_length=64)
        channel = CharField(max_length=16)
        reason = CharField(max_length=200)
        detail = TextField(default="")
        payload = TextField(default="")
        received_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "unparsed_item"

    db.create_tables([UnparsedItem])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("unparsed_item"))
