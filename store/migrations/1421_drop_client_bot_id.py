"""Drop ``client_bot_id`` (issue 14 items 4, 6, 7): a prefix of two unique indexes.

Peewee gave the foreign key ``client.bot_id`` its own index; ``(bot_id, messenger_id)`` and
``(bot_id, bsuid)`` both start with it, so every lookup by bot (the ``channel:`` filter, a
bot's cascade delete) has the same plan on a wider index, while every client insert, delete
and (on PostgreSQL, never HOT) update maintained one index more. Both databases.
"""


def up(migrator, db):
    db.execute_sql('DROP INDEX IF EXISTS "client_bot_id"')


def down(migrator, db):
    db.execute_sql('CREATE INDEX IF NOT EXISTS "client_bot_id" ON "client" ("bot_id")')
