"""``store.clients.rows.read_clients`` returns the models peewee itself would: the same data
with the same Python types, nothing dirty, related rows loaded on access, and they save
like peewee's own (on SQLite and PostgreSQL). On PostgreSQL the list's statements carry
their integers and flags as literals (``inline_integers``), text and arrays as parameters."""

from __future__ import annotations

import datetime as dt
import json

import peewee

from store.clients.query import order_clients, page_clients
from store.clients.rows import CLIENT_COLUMNS, inline_integers, read_clients
from store.clients.unread import is_unread
from store.db import database_proxy, is_postgres
from store.filters import ClientFilter, parse_filter
from store.filters.sql import CLIENT_ID, among
from store.models import Client, Operator
from tests.factories import MOSCOW, client, local, operator
from tests.sqllog import captured_statements


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
    assert anna.pinned is True and anna.blocked is False
    assert isinstance(anna.responsible, Operator) and anna.responsible.name == "Olga"
    assert is_unread(anna.id) and not is_unread(ours[1].id)
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


def test_integers_and_flags_are_inlined_and_nothing_else() -> None:
    sql = "SELECT 1 FROM t WHERE a IN (%s, %s) AND b = %s AND c = %s AND d = ANY(%s) LIMIT %s"
    params = [4, -2, True, "x'", [1, 2], 51]
    assert inline_integers(sql, params) == (
        "SELECT 1 FROM t WHERE a IN (4, (-2)) AND b = TRUE AND c = %s AND d = ANY(%s) LIMIT 51",
        ["x'", [1, 2]],
    )
    odd = "SELECT '100%%s' || %s"  # a %%s in the text: the placeholders do not pair up
    assert inline_integers(odd, [7]) == (odd, [7])


def test_a_page_of_exclusions_runs_without_parameters_on_postgresql(
    pg_db: peewee.Database,
) -> None:
    admin = operator(1, "Admin", "admin")
    client("vip", lists=("VIP",), labels=("hot",), unread=True)
    client("spam", lists=("Spam",), labels=("cold",))
    client("none")
    for text, expected in (("-list:Spam -label:cold", 2), ("label:hot unanswered", 1)):
        flt = parse_filter(text, admin, MOSCOW)
        with captured_statements() as seen:
            page = page_clients(flt, admin)
        assert page.total == expected and len(page.clients) == expected
        assert "%s" not in seen[-2] and ("%s" not in seen[-1]) == text.startswith("-"), seen


def test_the_column_list_is_the_text_peewee_renders(db: peewee.Database) -> None:
    """``read_clients`` writes ``Client.select()``'s columns from a cache per table alias:
    the statement is peewee's own, character for character, wherever ``client`` stands
    (``t1``, or ``t2`` after a CTE that reads ``client`` first)."""
    _clients(db)
    matches = Client.select(Client.id).where(Client.pinned == True).cte("m")  # noqa: E712
    queries = [
        order_clients(Client.select().where(Client.id > 0), ClientFilter()).limit(51),
        Client.select().join(matches, on=(matches.c.id == Client.id)).with_cte(matches),
    ]
    texts = []
    for query in queries:
        theirs = database_proxy.get_sql_context().sql(query).query()
        cached = database_proxy.get_sql_context().sql(query.select(CLIENT_COLUMNS)).query()
        assert cached == theirs
        texts.append(cached[0])
        ours = read_clients(query.clone())
        assert [c.__data__ for c in ours] == [c.__data__ for c in query.clone()] and ours
    assert '"t2"."bsuid"' in texts[1] and '"t1"."bsuid"' in texts[0]


def test_ids_bound_as_one_text_select_the_same_clients(db: peewee.Database) -> None:
    """``sql.among`` binds ids as one parameter whatever form they come in (a list, the text
    of PostgreSQL's array literal or of SQLite's JSON array): the same clients each way."""
    _clients(db)
    ids = sorted(c.id for c in Client.select(Client.id))[:2]
    forms: list[list[int] | str] = [ids, json.dumps(ids)]
    if is_postgres():
        forms.append("{" + ",".join(map(str, ids)) + "}")
    for form in forms:
        found = [c.id for c in Client.select(Client.id).where(among(CLIENT_ID, form))]
        assert sorted(found) == ids, form
    assert not Client.select().where(among(CLIENT_ID, [])).exists()
