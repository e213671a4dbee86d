"""The store: Peewee models, database setup, migrations and queries. Knows no other layer."""
