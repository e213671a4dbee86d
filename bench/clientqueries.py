"""The filter combinations of the client-list benchmark, each also written by hand in SQL.

Every case is run twice: through the project's own path (``compile_filter`` then
``page_clients``: page 1 of 50 in list order plus the count, capped at ``COUNT_CAP``) and as
the two statements a person would write for the same question (the page and the bounded
count ``SELECT count(*) FROM (SELECT 1 ... LIMIT cap + 1)``), over a raw cursor.
The hand-written SQL uses the same indexes the project created (FTS5 trigram table on SQLite,
pg_trgm GIN on PostgreSQL's side table ``client_search``) and literal ids for names (the
generator fixes them).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from bench.clientgen import BLOCKS, LABELS, LISTS
from store.clients.query import COUNT_CAP

ZONE = zoneinfo.ZoneInfo("Europe/Moscow")
PER_PAGE = 50
ORDER = "ORDER BY pinned DESC, last_action_at DESC, id DESC"
ORDER_CREATED = "ORDER BY pinned DESC, created_at DESC, id DESC"

Where = tuple[str, list[object]]


@dataclass(frozen=True)
class Case:
    """One filter: its text, who runs it (operator id; 1 is the admin), and its hand SQL."""

    label: str
    text: str
    hand: Callable[[bool], Where]  # postgres? -> (WHERE clause, params)
    viewer: int = 1
    sort_created: bool = False


def _p(pg: bool) -> str:
    return "%s" if pg else "?"


def _moment(day: str) -> dt.datetime:
    """Midnight of ``day`` (YYYY-MM-DD) in the bench zone as naive UTC."""
    local = dt.datetime.fromisoformat(day).replace(tzinfo=ZONE)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def _ts(pg: bool, day: str) -> object:
    moment = _moment(day)
    return moment if pg else moment.isoformat(" ")


def _search(pg: bool, needle: str) -> Where:
    if pg:
        like = f"%{needle}%"
        return (
            "id IN (SELECT client_id FROM client_search WHERE name ILIKE %s "
            "OR messenger_id ILIKE %s)",
            [like, like],
        )
    return (
        "id IN (SELECT rowid FROM client_fts WHERE client_fts MATCH ?)",
        [f'{{name messenger_id}} : "{needle}"'],
    )


def _id_contains(pg: bool, digits: str) -> Where:
    if pg:
        return "id IN (SELECT client_id FROM client_search WHERE client_id::text LIKE %s)", [
            f"%{digits}%"
        ]
    return "id IN (SELECT rowid FROM client_fts WHERE client_fts MATCH ?)", [f'{{id}} : "{digits}"']


def _and(*parts: Where) -> Where:
    return " AND ".join(f"({w})" for w, _ in parts), [v for _, ps in parts for v in ps]


def _lst(name: str) -> int:
    return LISTS.index(name) + 1


def _lbl(name: str) -> int:
    return LABELS.index(name) + 1


def _var(pg: bool, name: str | None, value: str | None) -> Where:
    p = _p(pg)
    conds: list[str] = []
    params: list[object] = []
    if name is not None:
        conds.append(f"name = {p}")
        params.append(name)
    if value is not None:
        conds.append(f"value = {p}")
        params.append(value)
    return f"id IN (SELECT client_id FROM variable WHERE {' AND '.join(conds)})", params


CASES: tuple[Case, ...] = (
    Case(
        "SPEC example",
        "search:Ксения before:20.04.2021 var:Размер=XS",
        lambda pg: _and(
            _search(pg, "Ксения"),
            (f"created_at < {_p(pg)}", [_ts(pg, "2021-04-20")]),
            _var(pg, "Размер", "XS"),
        ),
    ),
    Case("substring (Cyrillic, lower case)", "search:петров", lambda pg: _search(pg, "петров")),
    Case("substring (Latin)", "search:smith", lambda pg: _search(pg, "smith")),
    Case("substring of messenger id", "search:1988", lambda pg: _search(pg, "1988")),
    Case("id substring", "id:4242", lambda pg: _id_contains(pg, "4242")),
    Case(
        "exclude lists and labels",
        "-list:Spam,Beta -label:cold,test",
        lambda pg: (
            "NOT EXISTS (SELECT 1 FROM list_membership m WHERE m.client_id = client.id "
            f"AND m.mailing_list_id IN ({_lst('Spam')}, {_lst('Beta')})) "
            "AND NOT EXISTS (SELECT 1 FROM label_membership l WHERE l.client_id = client.id "
            f"AND l.label_id IN ({_lbl('cold')}, {_lbl('test')}))",
            [],
        ),
    ),
    Case(
        "in lists",
        "list:VIP,Gold",
        lambda pg: (
            "id IN (SELECT client_id FROM list_membership WHERE mailing_list_id IN "
            f"({_lst('VIP')}, {_lst('Gold')}))",
            [],
        ),
    ),
    Case(
        "label + unanswered",
        "label:hot unanswered",
        lambda pg: (
            "id IN (SELECT client_id FROM client_unread) AND id IN (SELECT client_id FROM "
            f"label_membership WHERE label_id = {_lbl('hot')})",
            [],
        ),
    ),
    Case("variable name=value", "var:Город=Казань", lambda pg: _var(pg, "Город", "Казань")),
    Case("variable value only", "var:=XL", lambda pg: _var(pg, None, "XL")),
    Case(
        "block + channel",
        "block:Оплата channel:shop_tg",
        lambda pg: (f"block_id = {BLOCKS.index('Оплата') + 1} AND bot_id = 1", []),
    ),
    Case(
        "one month, newest first",
        "after:2024-01-01 before:2024-02-01 sort:created",
        lambda pg: (
            f"created_at >= {_p(pg)} AND created_at < {_p(pg)}",
            [_ts(pg, "2024-01-01"), _ts(pg, "2024-02-01")],
        ),
        sort_created=True,
    ),
    Case(
        "stage + responsible:none",
        "stage:Оплата responsible:none",
        lambda pg: ("deal_stage = " + _p(pg) + " AND responsible_id IS NULL", ["Оплата"]),
    ),
    Case(
        "operator: tab:mine",
        "tab:mine",
        lambda pg: ("(responsible_id IS NULL OR responsible_id = 2) AND responsible_id = 2", []),
        viewer=2,
    ),
    Case(
        "operator: everything in scope",
        "",
        lambda pg: ("responsible_id IS NULL OR responsible_id = 2", []),
        viewer=2,
    ),
    Case("admin: everything", "", lambda pg: ("1 = 1", [])),
)


def hand_sql(case: Case, pg: bool) -> tuple[str, str, list[object]]:
    """The page statement, the capped count statement and their (shared) parameters."""
    where, params = case.hand(pg)
    order = ORDER_CREATED if case.sort_created else ORDER
    page = f"SELECT * FROM client WHERE {where} {order} LIMIT {PER_PAGE}"
    count = f"SELECT count(*) FROM (SELECT 1 FROM client WHERE {where} LIMIT {COUNT_CAP + 1}) c"
    return page, count, params
