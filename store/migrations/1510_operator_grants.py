"""Per-operator permission overrides (issue 15): a capability granted or revoked."""

from peewee import *


def up(migrator, db):
    class Operator(Model):
        class Meta:
            database = db
            table_name = "operator"

    class OperatorGrant(Model):
        operator = ForeignKeyField(Operator, on_delete="CASCADE")
        capability = CharField(max_length=32)
        granted = BooleanField()

        class Meta:
            database = db
            table_name = "operator_grant"
            indexes = ((("operator", "capability"), True),)

    db.create_tables([OperatorGrant])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("operator_grant"))
