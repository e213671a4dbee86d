"""``store.clients.rows.read_clients`` returns the models peewee itself would: the same data
with the same Python types, nothing dirty, related rows loaded on access, and they save
like peewee's own (on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import peewee

from store.clients.query import order_clients
from store.clients.rows import read_clients
from store.filters import ClientFilter
from store.models import Client, Operator
from tests.factories import client, local, operator


def _clients(db: peewee.Database) -> None:
    olga = operator(2, "Olga")
    client("Anna", pinned=True, unread=True, responsible=olga, block="Оплата", deal_stage="Новый")
    client("Boris", created_at=local("01.03.2023 09:00"), tag="vip", username="boris")
    client("Вера", last_action_at=dt.datetime(2024, 5, 1, 12, 30, 15, 250_000))


def test_the_models_equal_peewees_own(db: peewee.Database) -> None:
    _clients(db)
    query = order_clients(Client.select(), ClientFilter())
    theirs = list(query.clone())
    ours = read_clients(query.clone())
    assert [c.id for c in ours] == [c.id for c in theirs] and len(ours) == 3
    for mine, peewees in zip(ours, theirs, strict=True):
        assert type(mine) is Client and mine.__data__ == peewees.__data__
        for name, value in peewees.__data__.items():
            assert type(mine.__data__[name]) is type(value), name
        assert not mine.dirty_fields and mine.__rel__ == {}
    anna = ours[0]
    assert anna.pinned is True and anna.unread is True and anna.blocked is False
    assert isinstance(anna.responsible, Operator) and anna.responsible.name == "Olga"
    assert anna.block is not None and anna.block.name == "Оплата"
    assert ours[2].last_action_at == dt.datetime(2024, 5, 1, 12, 30, 15, 250_000)


def test_they_save_only_what_changed(db: peewee.Database) -> None:
    _clients(db)
    boris = next(c for c in read_clients(Client.select()) if c.name == "Boris")
    boris.tag = "gold"
    assert boris.dirty_fields == [Client.tag]
    assert boris.save() == 1
    again = Client.get_by_id(boris.id)
    assert (again.tag, again.username, again.created_at) == ("gold", "boris", boris.created_at)
