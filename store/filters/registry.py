"""The one declaration of every client filter (SPEC F10-F12).

Each ``FilterSpec`` says once: its key, the shape of its value, how the value is parsed and
checked, its help text, and how it becomes SQL. Parsing, validation, ``--help``/``/help`` text,
saved filters and the query all come from this table: adding a filter is adding one entry.

Terms combine with AND; the comma-separated values of one term mean any-of
(``list:VIP,Gold`` = in VIP or in Gold; ``list:VIP list:Gold`` = in both).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import peewee as pw

from store.filters import resolve, sql, suggest
from store.filters.errors import FilterError
from store.filters.syntax import Term, split_unquoted, tokenize, unquote
from store.models import Block, Bot, Label, MailingList, Operator, SavedFilter

SORTS = ("activity", "created")
TABS = ("all", "unanswered", "mine", "others", "free")
MAX_ID_DIGITS = 18  # larger numbers are no client id (and overflow SQLite's integers)
MAX_SAVED_DEPTH = 3  # a saved filter may name another saved filter, this deep at most


@dataclass(frozen=True, slots=True)
class Context:
    """What parsing needs besides the text: who looks (``me``, tabs) and the project's zone."""

    viewer: Operator
    zone: zoneinfo.ZoneInfo
    depth: int = 0
    # Names already looked up for this text, per model (``_known_names``): name -> id.
    known: dict[type[pw.Model], dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Condition:
    """One parsed term: its spec, the typed value, and the term as written."""

    key: str
    value: Any
    negated: bool
    token: str

    def expression(self, form: sql.Form = "drive") -> pw.ColumnBase | None:
        """The term as SQL; a membership in ``form`` (``sql.Form``)."""
        spec = REGISTRY[self.key]
        if spec.form_sql is not None:
            return spec.form_sql(self.value, self.negated, form)
        return spec.to_sql(self.value, self.negated)


@dataclass(frozen=True, slots=True)
class ClientFilter:
    """A checked filter, ready to run: conditions (AND), the sort, and the text it came from."""

    text: str = ""
    conditions: tuple[Condition, ...] = ()
    sort: str = "activity"

    def where(self, form: sql.Form = "drive") -> pw.ColumnBase | None:
        """The conditions as one SQL expression (None when there are none); memberships in
        ``form``: the same clients, another plan (``sql.Form``)."""
        result: pw.ColumnBase | None = None
        for condition in self.conditions:
            expr = condition.expression(form)
            if expr is not None:
                result = expr if result is None else result & expr
        return result


@dataclass(frozen=True)
class FilterSpec:
    """One filter. ``parse(term, ctx)`` -> typed value; ``to_sql(value, negated)`` -> SQL;
    ``form_sql(value, negated, form)``: a membership's SQL in each ``sql.Form`` (the same
    clients, another plan), used instead of ``to_sql``."""

    key: str
    syntax: str
    help: str
    parse: Callable[[Term, Context], Any]
    to_sql: Callable[[Any, bool], pw.ColumnBase | None]
    flag: bool = False  # written bare (``unanswered``), takes no value
    negatable: bool = False  # ``-key:`` allowed
    aliases: tuple[str, ...] = field(default=())
    # The known values, for completion (``store.filters.suggest``); None: free text.
    values: Callable[[Operator], list[str]] | None = None
    form_sql: Callable[[Any, bool, sql.Form], pw.ColumnBase | None] | None = None


def _nonempty_values(term: Term) -> list[str]:
    values = term.values()
    if not term.raw or any(v.strip() == "" for v in values):
        raise FilterError(f"{term.token}: empty value", token=term.token)
    return values


def _text(term: Term, _ctx: Context) -> str:
    value = term.text()
    if not value.strip():
        raise FilterError(f"{term.token}: empty value", token=term.token)
    return value


def _ids(term: Term, _ctx: Context) -> list[str]:
    values = _nonempty_values(term)
    for value in values:
        if not value.isascii() or not value.isdigit():
            raise FilterError(f"{term.token}: {value!r} is not a number", token=term.token)
    return values


def _exact_ids(term: Term, ctx: Context) -> list[int]:
    values = _ids(term, ctx)
    for value in values:
        if len(value.lstrip("0")) > MAX_ID_DIGITS:
            raise FilterError(f"{term.token}: {value!r} is not a client id", token=term.token)
    return [int(v) for v in values]


@dataclass(frozen=True)
class _Named:
    """The parse of a term naming rows of ``model`` (lists, labels, bots, blocks): their ids."""

    model: type[pw.Model]
    what: str

    def __call__(self, term: Term, ctx: Context) -> list[int]:
        names = _nonempty_values(term)
        known = ctx.known.get(self.model)
        return resolve.names_to_ids(
            self.model, names, what=self.what, token=term.token, known=known
        )


def _named(model: type[pw.Model], what: str) -> Callable[[Term, Context], list[int]]:
    return _Named(model, what)


def _known_names(terms: list[Term]) -> dict[type[pw.Model], dict[str, int]]:
    """The ids of every name the terms give to lists, labels, bots and blocks, in one
    statement when they name rows of two or more kinds (``-list:Spam -label:cold`` looked its
    lists and labels up in two round trips); empty otherwise (each term looks up its own)."""
    wanted: dict[type[pw.Model], set[str]] = {}
    for term in terms:
        spec = REGISTRY.get(term.key) if term.key is not None else None
        if spec is None or not isinstance(spec.parse, _Named):
            continue
        try:
            names = term.values()
        except FilterError:  # refused in order by the term's own parse
            continue
        wanted.setdefault(spec.parse.model, set()).update(names)
    return resolve.ids_by_name(wanted) if len(wanted) > 1 else {}


def _day(term: Term, ctx: Context) -> Any:
    day = resolve.parse_day(_text(term, ctx).strip(), token=term.token)
    return resolve.start_of_day(day, ctx.zone)


def _choice(choices: tuple[str, ...]) -> Callable[[Term, Context], str]:
    def parse(term: Term, ctx: Context) -> str:
        value = _text(term, ctx).lower()
        if value not in choices:
            raise FilterError(
                f"{term.token}: must be one of {', '.join(choices)}",
                token=term.token,
                suggestion=resolve.nearest(value, choices),
            )
        return value

    return parse


def _tab(term: Term, ctx: Context) -> tuple[str, int]:
    return _choice(TABS)(term, ctx), ctx.viewer.id


def _responsible(term: Term, ctx: Context) -> list[int | None]:
    return resolve.operator_ids(_nonempty_values(term), ctx.viewer, token=term.token)


def _variable(term: Term, _ctx: Context) -> tuple[str | None, str | None]:
    pieces = split_unquoted(term.raw, "=", maxsplit=1)
    name = unquote(pieces[0], term.token)
    value = unquote(pieces[1], term.token) if len(pieces) == 2 else None
    if name == "" and not value:
        raise FilterError(f"{term.token}: give a name, name=value or =value", token=term.token)
    return (name or None), value


def _flag(_term: Term, _ctx: Context) -> bool:
    return True


def _stages(term: Term, _ctx: Context) -> list[str]:
    return resolve.stage_names(_nonempty_values(term), token=term.token)


def _no_sql(_value: Any, _negated: bool) -> None:
    return None


SPECS: tuple[FilterSpec, ...] = (
    FilterSpec(
        "search",
        'search:TEXT (or a bare word, or "two words")',
        "name or messenger id contains TEXT, ignoring case in every alphabet "
        '(search:1988 finds "Vasya1988" and Telegram id 7771988777)',
        _text,
        lambda v, _n: sql.search(v),
    ),
    FilterSpec(
        "id",
        "id:DIGITS[,DIGITS...]",
        "the internal client id contains DIGITS (id:10 finds 10, 110, 100, 210)",
        _ids,
        lambda v, _n: sql.id_contains(v),
    ),
    FilterSpec(
        "client",
        "client:ID[,ID...]",
        "exactly these internal client ids (a hand-picked selection)",
        _exact_ids,
        lambda v, _n: sql.CLIENT_ID.in_(v),
    ),
    FilterSpec(
        "block",
        "block:NAME[,NAME...]",
        "currently in any of the funnel blocks",
        _named(Block, "block"),
        lambda v, _n: sql.Client.block.in_(v),
        values=suggest.block_names,
    ),
    FilterSpec(
        "list",
        "list:NAME[,NAME...]  -list:NAME[,NAME...]",
        "in any of the lists; -list: in none of them",
        _named(MailingList, "list"),
        sql.in_lists,
        negatable=True,
        values=suggest.list_names,
        form_sql=sql.in_lists,
    ),
    FilterSpec(
        "label",
        "label:NAME[,NAME...]  -label:NAME[,NAME...]",
        "having any of the labels; -label: having none of them",
        _named(Label, "label"),
        sql.has_labels,
        negatable=True,
        values=suggest.label_names,
        form_sql=sql.has_labels,
    ),
    FilterSpec(
        "channel",
        "channel:BOT[,BOT...]",
        "clients of any of the bots (by configured name)",
        _named(Bot, "bot"),
        lambda v, _n: sql.Client.bot.in_(v),
        values=suggest.bot_names,
    ),
    FilterSpec(
        "before",
        "before:YYYY-MM-DD | before:DD.MM.YYYY",
        "registered strictly before the start of that day in the project's time zone",
        _day,
        lambda v, _n: sql.created_before(v),
    ),
    FilterSpec(
        "after",
        "after:YYYY-MM-DD | after:DD.MM.YYYY",
        "registered at or after the start of that day in the project's time zone",
        _day,
        lambda v, _n: sql.created_since(v),
    ),
    FilterSpec(
        "unanswered",
        "unanswered",
        "only clients with unread incoming messages",
        _flag,
        lambda _v, _n: sql.unread(),
        flag=True,
        form_sql=lambda _v, _n, form: sql.unread(form),
    ),
    FilterSpec(
        "stage",
        "stage:NAME[,NAME...]",
        "at any of the CRM deal stages",
        _stages,
        lambda v, _n: sql.Client.deal_stage.in_(v),
        values=suggest.stage_names,
    ),
    FilterSpec(
        "responsible",
        "responsible:me|none|OPERATOR[,...]",
        "bound to any of: me, nobody, an operator (name, email or Telegram id)",
        _responsible,
        lambda v, _n: sql.responsible(v),
        values=suggest.operator_words,
    ),
    FilterSpec(
        "var",
        "var:NAME=VALUE | var:NAME | var:=VALUE",
        'has a variable with exactly that name and/or value ("Цена" does not match "цен")',
        _variable,
        lambda v, _n: sql.variable(*v),
        values=suggest.variable_names,
        form_sql=lambda v, _n, form: sql.variable(v[0], v[1], form),
    ),
    FilterSpec(
        "tab",
        "tab:all|unanswered|mine|others|free",
        "a tab of the client list: everyone, unread, bound to me, to another operator, free",
        _tab,
        lambda v, _n: sql.tab(*v),
        values=lambda _v: list(TABS),
        form_sql=lambda v, _n, form: sql.tab(v[0], v[1], form),
    ),
    FilterSpec(
        "sort",
        "sort:created|activity",
        "newest registered first (created) or latest activity first (the default); "
        "pinned clients always come first",
        _choice(SORTS),
        _no_sql,
        values=lambda _v: list(SORTS),
    ),
    FilterSpec(
        "saved",
        "saved:NAME",
        "the conditions of your saved filter NAME",
        lambda t, c: _text(t, c),  # expanded by parse_filter, never turned into SQL itself
        _no_sql,
        values=suggest.saved_names,
    ),
)

REGISTRY: dict[str, FilterSpec] = {spec.key: spec for spec in SPECS}


def parse_filter(text: str, viewer: Operator, zone: zoneinfo.ZoneInfo) -> ClientFilter:
    """Check ``text`` and turn it into a ``ClientFilter`` for ``viewer``.

    Raises ``FilterError`` (one line: the token and the nearest valid spelling) on the first
    bad term; nothing is run. Looks names up in the store (lists, labels, bots, blocks,
    operators, saved filters).
    """
    return _parse(text, Context(viewer=viewer, zone=zone))


def _parse(text: str, ctx: Context) -> ClientFilter:
    conditions: list[Condition] = []
    sort = "activity"
    terms = tokenize(text)
    ctx = replace(ctx, known=_known_names(terms))
    for term in terms:
        flag = REGISTRY.get(term.token.lower())
        if term.key is None and flag is not None and flag.flag:
            conditions.append(Condition(flag.key, True, False, term.token))
            continue
        if term.key is None:
            value = _text(term, ctx)
            conditions.append(Condition("search", value, False, term.token))
            continue
        spec = _spec_for(term)
        if term.negated and not spec.negatable:
            raise FilterError(
                f"{term.token}: {spec.key} cannot be negated",
                token=term.token,
                suggestion=term.token[1:],
            )
        value = spec.parse(term, ctx)
        if spec.key == "sort":
            sort = value
        elif spec.key == "saved":
            inner = _saved(value, term, ctx)
            conditions.extend(inner.conditions)
            sort = inner.sort if inner.sort != "activity" else sort
        else:
            conditions.append(Condition(spec.key, value, term.negated, term.token))
    return ClientFilter(text=text.strip(), conditions=tuple(conditions), sort=sort)


def _spec_for(term: Term) -> FilterSpec:
    assert term.key is not None
    spec = REGISTRY.get(term.key)
    if spec is None:
        hint = resolve.nearest(term.key, REGISTRY)
        raise FilterError(
            f"{term.token}: unknown filter {term.key!r}",
            token=term.token,
            suggestion=f"{hint}:" if hint else None,
        )
    if spec.flag and term.raw:
        raise FilterError(
            f"{term.token}: {spec.key} takes no value", token=term.token, suggestion=spec.key
        )
    return spec


def _saved(name: str, term: Term, ctx: Context) -> ClientFilter:
    if ctx.depth >= MAX_SAVED_DEPTH:
        raise FilterError(f"{term.token}: saved filters nest too deep", token=term.token)
    row = SavedFilter.get_or_none(
        (SavedFilter.operator == ctx.viewer.id) & (SavedFilter.name == name)
    )
    if row is None:
        names = [
            r.name
            for r in SavedFilter.select(SavedFilter.name).where(
                SavedFilter.operator == ctx.viewer.id
            )
        ]
        raise FilterError(
            f"{term.token}: no saved filter named {name!r}",
            token=term.token,
            suggestion=resolve.nearest(name, names),
        )
    return _parse(row.query, Context(ctx.viewer, ctx.zone, ctx.depth + 1))


def help_lines() -> list[tuple[str, str]]:
    """``(syntax, help)`` of every filter, in registry order: the source of every help text."""
    return [(spec.syntax, spec.help) for spec in SPECS]


def help_text() -> str:
    """The filter reference as plain text (CLI epilog, ``switchboard filters help``)."""
    lines = [
        "Filters (terms combine with AND; commas inside one term mean any-of;",
        'quote values with spaces: search:"Анна Мария", var:"Размер"="XS"):',
    ]
    for syntax, text in help_lines():
        lines.append(f"  {syntax}")
        lines.append(f"      {text}")
    return "\n".join(lines)


def help_markdown() -> str:
    """The filter reference as the Markdown table of docs/filters.md."""
    rows = ["| Filter | Meaning |", "|---|---|"]
    for syntax, text in help_lines():
        cells = [syntax.replace("|", "\\|"), text.replace("|", "\\|")]
        rows.append(f"| `{cells[0]}` | {cells[1]} |")
    return "\n".join(rows)
