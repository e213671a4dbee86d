"""The Mini App's client list (F6, F10, F15): tabs with capped counts, keyset pages of cards
shaped by the operator's preview choice, and the unread counter of the header.

Nothing here is a second implementation: the filter is the admin bot's (``commands.admin.
clients.parse``: the one registry), the tab counts and the page are the admin list's
(``tab_counts``, ``store.clients.query.page_clients`` with the same ``view_others`` scope
rule), the card's fields are ``commands.admin.cards.field_value`` in the order and choice of
``/preview``. A page is a keyset page: the next one is asked for with ``next_cursor``, so new
messages between two pages neither repeat nor skip a client. The first page counts its own tab
and reads the unread counter; a later page is given the count the first one showed
(``known``), which only picks the shape of its query (``page_clients``), so it counts nothing.
The five tabs' counts are ``tab_list``, asked for beside the first page (the screen draws the
page as soon as it comes and the counts when they come; switching tabs counts nothing again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from commands.admin.cards import ICONS, CardData, field_value, load_card_data
from commands.admin.clients import TAB_LABELS, parse, tab_counts, with_tab
from commands.admin.context import CommandContext, CommandError
from commands.admin.preferences import PREVIEW_FIELDS, preferences_of
from store.clients.query import COUNT_CAP, ClientCount, page_clients
from store.clients.unread import unread_count
from store.filters import FilterError
from store.filters.registry import TABS

PER_PAGE: Final = 30  # cards per page: a phone screen and a half
MAX_PER_PAGE: Final = 100


@dataclass(frozen=True, slots=True)
class Tab:
    name: str
    label: str
    count: str  # "1,234" or "10,000+"
    value: int
    exact: bool


@dataclass(frozen=True, slots=True)
class CardField:
    key: str
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Card:
    """One client of the list: the title's parts, then the fields the operator chose."""

    id: int
    name: str
    messenger: str
    icon: str
    pinned: bool
    unread: bool
    marks: list[str]  # blocked, unsubscribed, paused
    mine: bool  # bound to the viewer (free clients and others' are not)
    fields: list[CardField] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ListView:
    """A page of the list: ``unread`` only on the first page (later pages keep what the first
    one showed)."""

    tab: str
    count: str
    value: int
    exact: bool
    cards: list[Card]
    next_cursor: str | None
    unread: int | None = None


def check_tab(tab: str) -> str:
    if tab not in TABS:
        raise CommandError(f"tab {tab!r} is none of {', '.join(TABS)}")
    return tab


def list_view(
    ctx: CommandContext,
    text: str,
    tab: str = "all",
    *,
    after: str | None = None,
    per_page: int = PER_PAGE,
    known: tuple[int, bool] | None = None,
) -> ListView:
    """The page of ``tab`` of the clients matching ``text`` after ``after`` (a ``next_cursor``
    of this list; None: the first page). ``known``: the first page's ``(value, exact)`` for a
    later page (None: count again, capped)."""
    check_tab(tab)
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise CommandError(f"per_page must be 1 to {MAX_PER_PAGE}")
    count: ClientCount | None = None
    if after is not None and known is not None:
        value, exact = known
        count = ClientCount(max(0, min(value, COUNT_CAP)), exact=exact and value <= COUNT_CAP)
    try:
        page = page_clients(
            parse(ctx, with_tab(text, tab)),
            ctx.operator,
            per_page=per_page,
            after=after,
            count=count,
            view_others=ctx.can("view_others"),
        )
    except FilterError as exc:  # a cursor that is not this list's
        raise CommandError(str(exc)) from None
    cards = make_cards([c.id for c in page.clients], ctx)
    return ListView(
        tab=tab,
        count=str(page.count),
        value=page.count.value,
        exact=page.count.exact,
        cards=cards,
        next_cursor=page.next_cursor,
        unread=unread_count(ctx.operator) if after is None else None,
    )


def tab_list(ctx: CommandContext, text: str) -> list[Tab]:
    """The five tabs with how many of the clients matching ``text`` each holds (capped), in
    one statement: the admin bot's ``tab_counts``, with the same scope."""
    counts = tab_counts(parse(ctx, text), ctx)
    return [Tab(name, TAB_LABELS[name], str(c), c.value, c.exact) for name, c in counts.items()]


def make_cards(client_ids: list[int], ctx: CommandContext) -> list[Card]:
    """The cards of ``client_ids`` in that order, in a fixed number of queries."""
    data = load_card_data(client_ids, ctx)
    pref = preferences_of(ctx.operator.id)
    return [
        _card(cid, data, ctx, pref.preview_fields, pref.preview_variables) for cid in client_ids
    ]


def _card(
    client_id: int,
    data: CardData,
    ctx: CommandContext,
    chosen: list[str],
    variables: list[str],
) -> Card:
    d = data.details[client_id]
    fields = []
    for key, label in PREVIEW_FIELDS.items():
        if key in chosen:
            value = field_value(key, d, data, ctx)
            if value:
                fields.append(CardField(key, label, value))
    for name in variables:
        if d.variables.get(name) is not None:
            fields.append(CardField(f"var:{name}", name, d.variables[name]))
    marks = [m for m, on in (("blocked", d.blocked), ("unsubscribed", d.unsubscribed)) if on]
    if d.paused:
        marks.append("paused")
    return Card(
        id=d.client_id,
        name=d.name or d.messenger_id,
        messenger=d.messenger,
        icon=ICONS.get(d.messenger, "💬"),
        pinned=d.pinned,
        unread=d.unread,
        marks=marks,
        mine=d.responsible_telegram_id is not None
        and d.responsible_telegram_id == ctx.operator.telegram_id,
        fields=fields,
    )
