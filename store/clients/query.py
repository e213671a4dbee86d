"""Running a filter: the viewer's scope, ordering, pages and counts (SPEC F10-F12).

An operator sees the clients bound to them and the free ones; an admin sees every client.
Order: pinned first, then the latest activity (or, with ``sort:created``, the newest
registration) first; the id breaks ties so that pages never skip or repeat a client.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

import peewee as pw

from store.filters import ClientFilter, parse_filter
from store.filters.sql import CLIENT_ID
from store.models import Client, Operator


@dataclass(frozen=True, slots=True)
class Page:
    """One page of clients (``number`` counts from 1) and the total matching the filter."""

    clients: list[Client]
    total: int
    number: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def scope(viewer: Operator) -> pw.ColumnBase | None:
    """The clients ``viewer`` may see and act on; None for an admin (everyone)."""
    if viewer.is_admin:
        return None
    return Client.responsible.is_null() | (Client.responsible == viewer.id)


def compile_filter(text: str, viewer: Operator, zone: zoneinfo.ZoneInfo) -> ClientFilter:
    """``parse_filter`` under its task name: filter text for ``viewer`` -> ``ClientFilter``."""
    return parse_filter(text, viewer, zone)


def where_clause(flt: ClientFilter, viewer: Operator) -> pw.ColumnBase | None:
    """The filter's conditions AND the viewer's scope, as one expression (None = all)."""
    parts = [p for p in (scope(viewer), flt.where()) if p is not None]
    if not parts:
        return None
    result = parts[0]
    for part in parts[1:]:
        result = result & part
    return result


def select_clients(flt: ClientFilter, viewer: Operator, *fields: pw.Node) -> pw.ModelSelect[Client]:
    """The clients matching ``flt`` within ``viewer``'s scope, unordered (a Peewee query).

    ``fields`` default to the whole ``Client`` row; pass ``Client.id`` for a subquery.
    """
    query = Client.select(*fields) if fields else Client.select()
    where = where_clause(flt, viewer)
    return query.where(where) if where is not None else query


def order_clients(query: pw.ModelSelect[Client], flt: ClientFilter) -> pw.ModelSelect[Client]:
    """``query`` in list order: pinned first, then activity or creation, newest first."""
    moment = Client.created_at if flt.sort == "created" else Client.last_action_at
    return query.order_by(Client.pinned.desc(), moment.desc(), CLIENT_ID.desc())


def count_clients(flt: ClientFilter, viewer: Operator) -> int:
    """How many clients match ``flt`` within ``viewer``'s scope."""
    return int(select_clients(flt, viewer, CLIENT_ID).count())


def page_clients(flt: ClientFilter, viewer: Operator, *, page: int = 1, per_page: int = 50) -> Page:
    """Page ``page`` (from 1) of ``per_page`` clients, in list order, and the total."""
    if page < 1 or per_page < 1:
        raise ValueError("page and per_page count from 1")
    rows: list[Client] = list(
        order_clients(select_clients(flt, viewer), flt).paginate(page, per_page)
    )
    return Page(clients=rows, total=count_clients(flt, viewer), number=page, per_page=per_page)


def client_ids(flt: ClientFilter, viewer: Operator) -> pw.ModelSelect[Client]:
    """A subquery of the matching ids, for set-based statements (``Client.id.in_(...)``)."""
    return select_clients(flt, viewer, CLIENT_ID)
