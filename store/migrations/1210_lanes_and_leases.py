"""Delivery lanes and worker leases (issue 12 items 4 and 5).

``message.priority`` / ``job.priority``: the lane (0 interactive, 1 bulk; lower goes first);
existing outbound rows of a job become bulk. The dispatcher's index leads with status and
lane: ``(status, priority, next_attempt_at)`` replaces ``(status, next_attempt_at)``.
``message.claimed_by`` and the ``worker_lease`` table: which worker process is sending a row,
and when that process last proved it is alive.
"""

from peewee import *


def up(migrator, db):
    class WorkerLease(Model):
        worker_id = CharField(max_length=64, primary_key=True)
        host = CharField(max_length=255, default="")
        pid = IntegerField(default=0)
        started_at = DateTimeField()
        heartbeat_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "worker_lease"

    migrator.migrate(
        migrator.add_column("job", "priority", SmallIntegerField(default=1)),
        migrator.add_column("message", "priority", SmallIntegerField(default=0)),
        migrator.add_column("message", "claimed_by", CharField(max_length=64, null=True)),
    )
    db.execute_sql('UPDATE "message" SET "priority" = 1 WHERE "job_id" IS NOT NULL')
    migrator.migrate(
        migrator.drop_index("message", "message_status_next_attempt_at"),
        migrator.add_index("message", ("status", "priority", "next_attempt_at"), False),
    )
    db.create_tables([WorkerLease])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table("worker_lease"),
        migrator.drop_index("message", "message_status_priority_next_attempt_at"),
        migrator.add_index("message", ("status", "next_attempt_at"), False),
        migrator.drop_column("message", "claimed_by"),
        migrator.drop_column("message", "priority"),
        migrator.drop_column("job", "priority"),
    )
