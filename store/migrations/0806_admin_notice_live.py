"""Admin bot notices (issue 8): the refresh a live message (a job's progress) presses."""

from peewee import CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("admin_notice", "live", CharField(max_length=64, null=True))
    )


def down(migrator, db):
    migrator.migrate(migrator.drop_column("admin_notice", "live"))
