"""The client card (F14) and its menu: ``/clients/{client_id}/card``, ``.../action``,
``.../choices``, ``.../named`` (``commands.app.client_card`` on the admin bot's buttons)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from commands.app import client_card
from commands.app.api import API, ApiModel
from commands.app.context import ApiContext
from commands.app.scope import client_in_scope


class ClientIn(ApiModel):
    client_id: int
    """The client's internal id (as the list shows it)."""
    open: bool = False
    """Opening the card opens the dialog: mark it read, as the admin bot's /client does."""


class CardField(ApiModel):
    key: str
    """The preview field's key (`/preview`'s names)."""
    label: str
    """Its label for a person."""
    value: str
    """Its value, times in the project's zone."""


class JoinRequest(ApiModel):
    id: int
    """The request's message id: the `arg` of `approve_join` / `decline_join`."""
    chat: str
    """The group or channel the client asks to join."""


class CardOut(ApiModel):
    id: int
    """The client's internal id."""
    name: str
    """Their name (or messenger id when nameless)."""
    messenger: str
    """`telegram`, `whatsapp` or `email`."""
    icon: str
    """The messenger's icon."""
    bot: str
    """The bot they write to."""
    avatar_url: str | None
    """Their avatar, when known."""
    pinned: bool
    """Pinned clients come first in lists."""
    unread: bool
    """Unanswered (F10)."""
    blocked: bool
    """Blocked by us."""
    unsubscribed: bool
    """They blocked the bot."""
    paused: bool
    """The bot's automation is paused for them."""
    responsible: str
    """`your client`, another operator's name, or `free`."""
    business: str | None
    """For a Telegram Business chat: whose account and whether it answers."""
    fields: list[CardField]
    """Every field of the client (F14's full data)."""
    variables: dict[str, str]
    """The client's variables."""
    lists: list[str]
    """Lists they are in."""
    labels: list[str]
    """Their labels."""
    read_only: bool
    """Another operator's client seen with `view_others`: no menu."""
    actions: list[str]
    """The menu for this operator: `reply`, `comment`, `mark_unread`, `pin`/`unpin`,
    `block`/`unblock`, `delete`, `assign`, `lists`, `labels` (by their capabilities)."""
    join_requests: list[JoinRequest]
    """Telegram join requests of the client nobody has decided yet (approve or decline)."""
    upload_limits: dict[str, int]
    """Bytes a `photo` and a `document` to this client's messenger may have."""
    document_types: list[str]
    """File extensions a document may have."""


@API.endpoint(
    "GET",
    "/clients/{client_id}/card",
    CardOut,
    "A client's full card (F14) and the menu this operator gets; `open=true` marks it read.",
    request=ClientIn,
)
def get_card(ctx: ApiContext, params: ClientIn) -> CardOut:
    client_in_scope(ctx, params.client_id, viewing=True)
    return CardOut.model_validate(client_card.card(ctx, params.client_id, opening=params.open))


class ActionIn(ApiModel):
    client_id: int
    """The client's internal id."""
    action: Literal[
        "mark_unread",
        "pin",
        "unpin",
        "block",
        "unblock",
        "delete",
        "assign",
        "toggle_list",
        "toggle_label",
        "approve_join",
        "decline_join",
    ]
    """What to do; `delete` is irreversible (the app asks first)."""
    arg: str = ""
    """`assign`: an operator id (0: nobody); `toggle_list`/`toggle_label`: its id;
    `approve_join`/`decline_join`: the join request's id."""


class ActionOut(ApiModel):
    notice: str
    """What happened, in one line."""
    card: CardOut | None
    """The card afterwards; null once the client is deleted."""


@API.endpoint(
    "POST",
    "/clients/{client_id}/action",
    ActionOut,
    "Run a card menu action: the admin bot's own button, with its scope and capability checks.",
    request=ActionIn,
)
def post_action(ctx: ApiContext, params: ActionIn) -> ActionOut:
    client_in_scope(ctx, params.client_id)
    notice = client_card.run_action(ctx, params.client_id, params.action, params.arg)
    if params.action == "delete":
        return ActionOut(notice=notice, card=None)
    return ActionOut(
        notice=notice, card=CardOut.model_validate(client_card.card(ctx, params.client_id))
    )


class ChoicesIn(ApiModel):
    client_id: int
    """The client's internal id."""
    kind: Literal["lists", "labels", "operators"]
    """Which picker."""


class Choice(ApiModel):
    id: int
    """The list's, label's or operator's id (operators: 0 is nobody)."""
    name: str
    """Its name."""
    selected: bool
    """The client is in it (lists, labels) or bound to them (operators)."""


class ChoicesOut(ApiModel):
    choices: list[Choice]
    """What the picker offers, by name."""


@API.endpoint(
    "GET",
    "/clients/{client_id}/choices",
    ChoicesOut,
    "What the card's Assign, Lists or Labels picker offers, the client's marked.",
    request=ChoicesIn,
)
def get_choices(ctx: ApiContext, params: ChoicesIn) -> ChoicesOut:
    client_in_scope(ctx, params.client_id)
    found = client_card.choices(ctx, params.client_id, params.kind)
    return ChoicesOut(choices=[Choice.model_validate(c) for c in found])


class NamedIn(ApiModel):
    client_id: int
    """The client's internal id."""
    kind: Literal["list", "label"]
    """A list or a label."""
    name: str = Field(min_length=1, max_length=200)
    """Its name; created when new."""


@API.endpoint(
    "POST",
    "/clients/{client_id}/named",
    ActionOut,
    "Put the client in a list or label by name, creating it when new.",
    request=NamedIn,
)
def post_named(ctx: ApiContext, params: NamedIn) -> ActionOut:
    client_in_scope(ctx, params.client_id)
    notice = client_card.add_named(
        ctx, params.client_id, params.name, is_list=params.kind == "list"
    )
    return ActionOut(
        notice=notice, card=CardOut.model_validate(client_card.card(ctx, params.client_id))
    )
