"""WhatsApp business-scoped user ids (issue 16 item 2): ``client.bsuid``, unique per bot.

A WhatsApp client is keyed by phone number when one is known, else by the BSUID; the BSUID
(when known) is kept here either way, so a later payload carrying only one of the two finds
the same client.
"""

from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("client", "bsuid", CharField(max_length=160, null=True)),
        migrator.add_index("client", ("bot_id", "bsuid"), True),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("client", "client_bot_id_bsuid"),
        migrator.drop_column("client", "bsuid"),
    )
