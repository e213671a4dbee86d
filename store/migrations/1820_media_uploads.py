"""Files a platform already holds per bot (Telegram file_id, WhatsApp media id), issue 18."""

from peewee import *


def up(migrator, db):
    class MediaUpload(Model):
        bot = CharField(max_length=64)
        content_key = CharField(max_length=128)
        file_id = CharField(max_length=512)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "media_upload"
            indexes = ((("bot", "content_key"), True),)

    db.create_tables([MediaUpload])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("media_upload"))
