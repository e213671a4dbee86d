"""The client list's endpoints (F6, F9-F13, F15): pages with tabs, completion of the filter
bar, bulk actions after a plan and a confirmation, saved filters. Export is in
``clients_export`` (it answers through the admin bot). The work is in
``commands.app.client_list`` and ``commands.app.client_actions``; this module only declares
the shapes."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from commands.app import client_actions as actions
from commands.app.api import API, ApiModel
from commands.app.client_list import PER_PAGE, list_view, tab_list
from commands.app.context import ApiContext
from store.filters.complete import complete


class SelectionIn(ApiModel):
    filter: str = ""
    """The list's filter text (the filter language, docs/filters.md)."""
    tab: str = "all"
    """The list's tab: all, unanswered, mine, others, free."""
    all: bool = False
    """Every client matching the filter in the tab (the filter is sent, never the ids)."""
    ids: list[int] = Field(default_factory=list)
    """Without `all`: the client ids picked by hand (at most 1,000)."""

    def selection(self) -> actions.Selection:
        return actions.Selection(self.filter, self.tab, self.all, tuple(self.ids))


class ClientsIn(ApiModel):
    filter: str = ""
    """The filter text; a bad term is a 400 naming it."""
    tab: str = "all"
    """all, unanswered, mine, others or free (F10)."""
    after: str | None = None
    """`next_cursor` of the previous page; absent for the first page."""
    per_page: int = PER_PAGE
    """Cards per page, 1 to 100."""
    count: int | None = None
    """With `after`: the first page's `value`, so the page is not counted again."""
    exact: bool = True
    """With `count`: the first page's `exact`."""


class TabOut(ApiModel):
    name: str
    """The tab's key."""
    label: str
    """What the tab is called."""
    count: str
    """Clients in it as shown: `1,234` or `10,000+` (counts stop at 10,000)."""
    value: int
    """The count as a number (the cap when not exact)."""
    exact: bool
    """False when there are more than `value`."""


class FieldOut(ApiModel):
    key: str
    """The preview field (`/preview`), or `var:NAME` for a variable."""
    label: str
    """Its label."""
    value: str
    """Its value as shown."""


class CardOut(ApiModel):
    id: int
    """The client's id (open it at `/app/?screen=client&id=ID`)."""
    name: str
    """Their name, or messenger id when unnamed."""
    messenger: str
    """telegram, whatsapp or email."""
    icon: str
    """The messenger's emoji."""
    pinned: bool
    """Pinned clients come first."""
    unread: bool
    """They wrote and nobody has read it yet."""
    marks: list[str]
    """blocked, unsubscribed, paused."""
    mine: bool
    """Bound to the operator asking."""
    fields: list[FieldOut]
    """The fields the operator chose to preview (F6), in their order."""


class ClientsOut(ApiModel):
    tab: str
    """The tab shown."""
    count: str
    """Clients in it as shown (capped, see `tabs`)."""
    value: int
    """The count as a number."""
    exact: bool
    """False beyond the cap."""
    cards: list[CardOut]
    """The page, pinned first, then the latest activity (or `sort:created`)."""
    next_cursor: str | None
    """Pass as `after` for the next page; null on the last page."""
    unread: int | None
    """The operator's unread counter (F15), for the header; on the first page only."""


@API.endpoint(
    "GET",
    "/clients",
    ClientsOut,
    "A page of the client list (keyset pages) with its count and the unread counter.",
    request=ClientsIn,
)
def clients(ctx: ApiContext, params: ClientsIn) -> ClientsOut:
    known = (params.count, params.exact) if params.count is not None else None
    view = list_view(
        ctx, params.filter, params.tab, after=params.after, per_page=params.per_page, known=known
    )
    return ClientsOut.model_validate(view, from_attributes=True)


class TabsIn(ApiModel):
    filter: str = ""
    """The filter text."""


class TabsOut(ApiModel):
    tabs: list[TabOut]
    """all, unanswered, mine, others, free with their counts (F10)."""


@API.endpoint(
    "GET",
    "/clients/tabs",
    TabsOut,
    "How many clients matching the filter each of the five tabs holds (capped at 10,000).",
    request=TabsIn,
)
def clients_tabs(ctx: ApiContext, params: TabsIn) -> TabsOut:
    return TabsOut.model_validate({"tabs": tab_list(ctx, params.filter)}, from_attributes=True)


class CompleteIn(ApiModel):
    text: str = ""
    """The filter text as typed."""
    cursor: int = 0
    """The caret's offset in `text` (characters)."""


class SuggestionOut(ApiModel):
    text: str
    """The whole term to put in place of `text[start:end]`."""
    label: str
    """What to show."""
    hint: str
    """One line about it."""
    final: bool
    """The term is complete: a space may follow."""


class CompleteOut(ApiModel):
    start: int
    """Where the term under the caret starts."""
    end: int
    """Where it ends."""
    suggestions: list[SuggestionOut]
    """Keys, or the names the key takes (lists, labels, blocks, stages, operators...)."""


@API.endpoint(
    "GET",
    "/clients/complete",
    CompleteOut,
    "Completions of the filter term under the caret, from the filter registry.",
    request=CompleteIn,
)
def complete_filter(ctx: ApiContext, params: CompleteIn) -> CompleteOut:
    done = complete(params.text, params.cursor, ctx.operator)
    return CompleteOut.model_validate(done, from_attributes=True)


class ActionOut(ApiModel):
    name: str
    """The action (`clients bulk` names)."""
    argument: str | None
    """What it needs: lists, labels, operator, or null."""
    help: str
    """One line about it."""
    destructive: bool
    """It cannot be undone."""


class ActionsOut(ApiModel):
    actions: list[ActionOut]
    """The bulk actions (F9) this operator may take."""


@API.endpoint("GET", "/clients/actions", ActionsOut, "The bulk actions the operator may take.")
def bulk_actions(ctx: ApiContext, _: object) -> ActionsOut:
    return ActionsOut.model_validate(
        {"actions": actions.allowed_actions(ctx)}, from_attributes=True
    )


class PlanIn(ApiModel):
    action: str
    """A bulk action (GET /clients/actions)."""
    argument: str | None = None
    """Lists or labels (comma-separated), or an operator, for the actions that take one."""
    selection: SelectionIn
    """The clients chosen."""


class PlanOut(ApiModel):
    action: str
    """The action."""
    argument: str | None
    """Its argument."""
    count: int
    """Clients it would touch (within what the operator may act on)."""
    question: str
    """The confirmation to show."""
    destructive: bool
    """It cannot be undone."""
    token: str | None
    """Confirm with it, once (null: nothing to do)."""


@API.endpoint(
    "POST",
    "/clients/bulk/plan",
    PlanOut,
    "Count a bulk action's clients and keep the plan behind a one-use token (nothing runs).",
    request=PlanIn,
)
def bulk_plan(ctx: ApiContext, params: PlanIn) -> PlanOut:
    planned = actions.plan(ctx, params.action, params.argument, params.selection.selection())
    return PlanOut.model_validate(planned, from_attributes=True)


class TokenIn(ApiModel):
    token: str
    """A plan's token."""


class DoneOut(ApiModel):
    action: str
    """The action run."""
    count: int
    """Clients it applied to."""
    changed: int
    """Rows it changed."""
    message: str
    """One line saying so."""


@API.endpoint(
    "POST",
    "/clients/bulk/confirm",
    DoneOut,
    "Run a planned bulk action once; the capability is checked again.",
    request=TokenIn,
)
def bulk_confirm(ctx: ApiContext, params: TokenIn) -> DoneOut:
    return DoneOut.model_validate(actions.confirm(ctx, params.token), from_attributes=True)


class OkOut(ApiModel):
    ok: bool
    """Always true."""


@API.endpoint("POST", "/clients/bulk/cancel", OkOut, "Drop a planned bulk action.", request=TokenIn)
def bulk_cancel(ctx: ApiContext, params: TokenIn) -> OkOut:
    actions.cancel(ctx, params.token)
    return OkOut(ok=True)


class SavedFilterOut(ApiModel):
    name: str
    """Its name."""
    text: str
    """Its filter text."""


class SavedOut(ApiModel):
    saved: list[SavedFilterOut]
    """The operator's saved filters, by name (F12)."""
    replaced: bool = False
    """A save replaced one of the same name."""


def _saved(ctx: ApiContext, **extra: Any) -> SavedOut:
    return SavedOut.model_validate(
        {"saved": actions.saved_filters(ctx), **extra}, from_attributes=True
    )


@API.endpoint("GET", "/filters/saved", SavedOut, "The operator's saved filters.")
def saved_list(ctx: ApiContext, _: object) -> SavedOut:
    return _saved(ctx)


class SaveIn(ApiModel):
    name: str
    """The name (1-100 characters); an existing one is replaced."""
    text: str
    """The filter text; checked before it is saved."""


@API.endpoint("POST", "/filters/saved", SavedOut, "Save a filter under a name.", request=SaveIn)
def saved_save(ctx: ApiContext, params: SaveIn) -> SavedOut:
    return _saved(ctx, replaced=actions.save(ctx, params.name, params.text))


class NameIn(ApiModel):
    name: str
    """The saved filter's name."""


@API.endpoint("DELETE", "/filters/saved/{name}", SavedOut, "Delete a saved filter.", request=NameIn)
def saved_delete(ctx: ApiContext, params: NameIn) -> SavedOut:
    actions.delete(ctx, params.name)
    return _saved(ctx)
