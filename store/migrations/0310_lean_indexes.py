"""Drop the indexes that a wider index already serves (issue 3, bulk actions at 1M clients).

Peewee gave every foreign key its own index; each one below is the leading column of a
composite index or primary key on the same table, so no query loses a plan, while every
insert and delete (bulk label-add, deleting 100,000 clients with their messages, variables,
history and memberships) maintains one index fewer per row.
"""

REDUNDANT = {
    # index: (table, columns), the wider index that covers it in the comment
    "message_client_id": ("message", "client_id"),  # (client_id, created_at)
    "message_bot_id": ("message", "bot_id"),  # (bot_id, dedup_key) unique
    "blockhistory_client_id": ("block_history", "client_id"),  # (client_id, entered_at)
    "variable_client_id": ("variable", "client_id"),  # (client_id, name) unique
    "listmembership_client_id": ("list_membership", "client_id"),  # primary key
    "listmembership_mailing_list_id": ("list_membership", "mailing_list_id"),  # (list, client)
    "labelmembership_client_id": ("label_membership", "client_id"),  # primary key
    "labelmembership_label_id": ("label_membership", "label_id"),  # (label_id, client_id)
}


def up(migrator, db):
    for name in REDUNDANT:
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')


def down(migrator, db):
    for name, (table, column) in REDUNDANT.items():
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")')
