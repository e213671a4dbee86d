"""A campaign's placeholders against the store: the values of a batch of clients, and the
plan's check of an audience (how many clients a placeholder without a default leaves empty).

Both are set-based: ``fields_for`` reads a batch in two statements (names, then only the
variables the content uses); ``missing_placeholders`` costs one COUNT per placeholder
without a default, whatever the audience's size. "No value" is the same rule as
``ClientFields.value``: no row, or a value of spaces only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import peewee as pw

from store.campaigns.content import PLATFORMS, CampaignContent
from store.campaigns.placeholders import ClientFields, Placeholder
from store.db import is_postgres
from store.models import Bot, Client, Variable

CLIENT_ID: Any = Client.id


@dataclass(frozen=True, slots=True)
class MissingPlaceholder:
    """``placeholder`` (``{first_name}``, ``{var:Город}``) is empty for ``clients`` clients."""

    placeholder: str
    clients: int


def variable_names(placeholders: Iterable[Placeholder]) -> list[str]:
    return list(dict.fromkeys(p.variable for p in placeholders if p.variable is not None))


def fields_for(client_ids: Sequence[int], content: CampaignContent) -> dict[int, ClientFields]:
    """Each client's ``ClientFields`` for ``content`` (variables it does not use are not read)."""
    if not client_ids:
        return {}
    names: Any = Client.select(Client.id, Client.name).where(CLIENT_ID.in_(list(client_ids)))
    variables: dict[int, dict[str, str]] = {}
    wanted = variable_names(content.placeholders())
    if wanted:
        rows: Any = Variable.select(Variable.client, Variable.name, Variable.value).where(
            Variable.client.in_(list(client_ids)) & Variable.name.in_(wanted)
        )
        for client_id, name, value in rows.tuples():
            variables.setdefault(client_id, {})[name] = value
    return {
        client_id: ClientFields(name or "", variables.get(client_id, {}))
        for client_id, name in names.tuples()
    }


def _empty(field: Any) -> Any:
    return pw.fn.TRIM(pw.fn.COALESCE(field, "")) == ""


def _no_value(placeholder: Placeholder) -> Any:
    """The SQL condition on ``Client``: the client has no value for ``placeholder``."""
    if placeholder.field in ("name", "first_name"):
        return _empty(Client.name)
    has_value = (Variable.name == placeholder.variable) & ~_empty(Variable.value)
    if is_postgres():  # a hash anti-join; SQLite probes a NOT IN set faster (store.filters.sql)
        return ~pw.fn.EXISTS(
            Variable.select(pw.SQL("1")).where((Variable.client == CLIENT_ID) & has_value)
        )
    return CLIENT_ID.not_in(Variable.select(Variable.client).where(has_value))


def missing_placeholders(
    content: CampaignContent, audience: pw.SelectQuery
) -> list[MissingPlaceholder]:
    """Per placeholder of ``content`` with no default, the number of clients of ``audience``
    (a query of client ids) it would leave empty; only those affecting someone, in order.
    A placeholder used both with and without a default counts (the bare use is empty). A
    placeholder only in the subject counts email clients, only in the template's parameters
    WhatsApp clients (``CampaignContent.placeholder_platforms``)."""
    bare: dict[str, tuple[Placeholder, frozenset[str]]] = {}
    for placeholder, platforms in content.placeholder_platforms().items():
        if placeholder.default is None:
            _, before = bare.get(placeholder.key, (placeholder, frozenset()))
            bare[placeholder.key] = (placeholder, before | platforms)
    counts: dict[tuple[str, frozenset[str]], int] = {}
    missing: list[MissingPlaceholder] = []
    for key, (placeholder, platforms) in bare.items():
        # {name} and {first_name} are empty for the same clients: one count serves both
        rule = ("name" if placeholder.field in ("name", "first_name") else key, platforms)
        if rule not in counts:
            where = CLIENT_ID.in_(audience) & _no_value(placeholder)
            if platforms != frozenset(PLATFORMS):
                kinds = Bot.select(Bot.id).where(Bot.kind.in_(sorted(platforms)))
                where &= Client.bot.in_(kinds)
            query: Any = Client.select(pw.fn.COUNT(CLIENT_ID)).where(where)
            counts[rule] = int(query.scalar() or 0)
        if counts[rule]:
            missing.append(MissingPlaceholder(key, counts[rule]))
    return missing
