"""Worker threads on the lease (issue 13 item 1): ``worker_lease.threads``, how many sending
threads the worker process runs, shown with its host, pid and heartbeat on ``/ops``."""

from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column("worker_lease", "threads", IntegerField(default=0)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("worker_lease", "threads"))
