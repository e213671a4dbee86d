"""The outbox index ``message (status, priority, next_attempt_at)`` of the rows with a status
only (issue 14 item 4), as 1920 did for eight others.

Incoming messages and internal comments have no status (1.2 M of the 2.0 M messages of the
million-client data): their entries served no query, since every look-up is ``status = ?`` or
``status IN (...)`` (the dispatcher's ``queued``, the leases' ``sending``, a job's rows, the
counts by status, which now say ``status IS NOT NULL``), and both databases prove that implies
``status IS NOT NULL``. Deleting a client's messages and ingesting one no longer touch it.
"""

NAME = "message_status_priority_next_attempt_at"
COLUMNS = '"status", "priority", "next_attempt_at"'


def up(migrator, db):
    db.execute_sql(f'DROP INDEX IF EXISTS "{NAME}"')
    db.execute_sql(f'CREATE INDEX "{NAME}" ON "message" ({COLUMNS}) WHERE "status" IS NOT NULL')


def down(migrator, db):
    db.execute_sql(f'DROP INDEX IF EXISTS "{NAME}"')
    db.execute_sql(f'CREATE INDEX "{NAME}" ON "message" ({COLUMNS})')
