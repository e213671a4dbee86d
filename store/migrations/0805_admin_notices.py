"""Admin bot notices (issue 8): which client or job a message the admin bot sent is about."""

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

    class Job(Model):
        class Meta:
            database = db
            table_name = "job"

    class AdminNotice(Model):
        operator = ForeignKeyField(Operator, on_delete="CASCADE")
        chat_id = BigIntegerField()
        message_id = BigIntegerField(default=0)
        client = ForeignKeyField(Client, null=True, on_delete="CASCADE")
        job = ForeignKeyField(Job, null=True, on_delete="CASCADE")
        final = BooleanField(default=False)
        created_at = DateTimeField(index=True)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "admin_notice"
            indexes = (
                (("chat_id", "message_id"), False),
                (("job", "operator"), True),
            )

    db.create_tables([AdminNotice])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("admin_notice"))
