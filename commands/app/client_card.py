"""The Mini App's client card (F14) and its menu, on the admin bot's layer.

The card is the admin bot's ``/client`` data as JSON (``commands.admin.cards``: the same
details, labels and times). Its menu offers what the admin bot's card offers to this operator
(``commands.admin.client.menu``, filtered by their capabilities), and every action is the
admin bot's own button pressed through ``ADMIN_COMMANDS.handle_button``: one implementation
of the scope rule (admins any client; operators their own and free ones; ``view_others`` reads
the rest), of the capability check, of the audit log and of the effects.
"""

from __future__ import annotations

from typing import Any, Final

from commands.admin.assignment import client_for, may_act
from commands.admin.cards import (
    ICONS,
    business_line,
    field_value,
    load_card_data,
    responsible_text,
)
from commands.admin.client import ACTION_CAPABILITY, add_to_named, mark_read_on_open, menu
from commands.admin.context import CommandContext, CommandError, Refused
from commands.admin.joins import pending_requests
from commands.admin.preferences import PREVIEW_FIELDS
from commands.admin.registry import ADMIN_COMMANDS
from commands.app.uploads import DOCUMENT_TYPES, SIZE_LIMITS
from store.business import PREFIX as BUSINESS_PREFIX
from store.models import Client, Label, LabelMembership, ListMembership, MailingList, Operator
from store.permissions import refusal

PICK_LIMIT: Final = 200  # lists, labels or operators a picker offers at once

# The app's action names -> the admin bot's menu codes (``cm:<client>:<code>[:<arg>]``).
# Pin and block are toggles there; the app names the state it wants, so a double tap or a
# stale screen never flips it back.
ACTION_CODES: Final = {
    "mark_unread": "u",
    "pin": "p",
    "unpin": "p",
    "block": "b",
    "unblock": "b",
    "delete": "D",
    "assign": "A",
    "toggle_list": "L",
    "toggle_label": "G",
    "approve_join": "jr:a",  # a Telegram join request (``commands.admin.joins``)
    "decline_join": "jr:d",
}
MENU_ACTIONS: Final = {  # a menu code of the admin bot's card -> what the app shows for it
    "r": ("reply",),
    "k": ("comment",),
    "u": ("mark_unread",),
    "p": ("pin", "unpin"),
    "b": ("block", "unblock"),
    "d": ("delete",),
    "a": ("assign",),
    "l": ("lists",),
    "g": ("labels",),
}


def offered_actions(ctx: CommandContext, client: Client) -> list[str]:
    """The card's menu for this operator: the admin bot's card buttons, by the app's names."""
    if not may_act(ctx, client):
        return []
    codes = [
        str(b.data).split(":")[2]
        for row in menu(client, allowed=ctx.capabilities)
        for b in row
        if b.data and b.data.startswith("cm:")
    ]
    names: list[str] = []
    for code in codes:
        choices = MENU_ACTIONS.get(code, ())
        if code == "p":
            choices = ("unpin",) if client.pinned else ("pin",)
        elif code == "b":
            choices = ("unblock",) if client.blocked else ("block",)
        names.extend(choices)
    return names


def card(ctx: CommandContext, client_id: int, *, opening: bool = False) -> dict[str, Any]:
    """The full card of a client the operator may see; ``opening`` marks the dialog read, as
    the admin bot's ``/client`` does. ``CommandError`` when out of their scope."""
    client = client_for(ctx, str(client_id), viewing=True)
    if opening:
        mark_read_on_open(ctx, client)
    data = load_card_data([client.id], ctx)
    d = data.details[client.id]
    fields = []
    for key, label in PREVIEW_FIELDS.items():
        value = field_value(key, d, data, ctx)
        if value:
            fields.append({"key": key, "label": label, "value": value})
    return {
        "id": d.client_id,
        "name": d.name or d.messenger_id,
        "messenger": d.messenger,
        "icon": ICONS.get(d.messenger, "💬"),
        "bot": d.bot,
        "avatar_url": d.avatar_url,
        "pinned": d.pinned,
        "unread": d.unread,
        "blocked": d.blocked,
        "unsubscribed": d.unsubscribed,
        "paused": d.paused,
        "responsible": responsible_text(d, ctx),
        "business": (
            business_line(d.client_id) if d.messenger_id.startswith(BUSINESS_PREFIX) else None
        ),
        "fields": fields,
        "variables": d.variables,
        "lists": d.lists,
        "labels": d.labels,
        "read_only": not may_act(ctx, client),
        "actions": offered_actions(ctx, client),
        "join_requests": [
            {"id": m.id, "chat": str(m.extra["join_request"].get("chat_title", ""))}
            for m in (pending_requests(client.id) if may_act(ctx, client) else [])
        ],
        "upload_limits": SIZE_LIMITS.get(d.messenger, SIZE_LIMITS["email"]),
        "document_types": sorted(DOCUMENT_TYPES),
    }


def run_action(ctx: CommandContext, client_id: int, action: str, arg: str = "") -> str:
    """Press the admin bot's menu button for ``action`` on the client; returns its notice.

    ``Refused`` without the capability the action needs, ``CommandError`` (nothing done) for
    a client out of scope, an unknown action or a bad argument.
    """
    code = ACTION_CODES.get(action)
    if code is None:
        raise CommandError(f"Unknown action {action!r}; known: {', '.join(ACTION_CODES)}.")
    needed = ACTION_CAPABILITY.get(code)
    if needed is not None and not ctx.can(needed):
        raise Refused(refusal(f"Action {action!r}", needed))
    client = client_for(ctx, str(client_id))
    if (action in ("pin", "unpin") and client.pinned == (action == "pin")) or (
        action in ("block", "unblock") and client.blocked == (action == "block")
    ):
        return "Nothing to change."
    if code in ("A", "L", "G", "jr:a", "jr:d") and not arg.isdigit():
        raise CommandError(f"Action {action!r} needs a numeric id.")
    if code.startswith("jr:"):
        if int(arg) not in {m.id for m in pending_requests(client.id)}:
            raise CommandError("That join request is already decided or not this client's.")
        data = f"{code}:{arg}"
    else:
        data = f"cm:{client.id}:{code}" + (f":{arg}" if code in ("A", "L", "G") else "")
    reply = ADMIN_COMMANDS.handle_button(ctx, data)
    if reply.error:
        raise CommandError(reply.text)
    return reply.notice or reply.text.split("\n", 1)[0]


def add_named(ctx: CommandContext, client_id: int, name: str, *, is_list: bool) -> str:
    """Put the client in the list or label ``name``, created when new (the admin bot's ➕)."""
    add_to_named(ctx, client_id, name, is_list)
    return f"Added to {'list' if is_list else 'label'} {name.strip()!r}."


def choices(ctx: CommandContext, client_id: int, kind: str) -> list[dict[str, Any]]:
    """What a picker of the card offers: ``lists`` and ``labels`` with the client's membership
    marked, or ``operators`` the operator may assign to (admins: any active one; operators:
    themselves; id 0 is nobody), as the admin bot's pickers."""
    client = client_for(ctx, str(client_id))
    if kind == "operators":
        found = Operator.select().where(Operator.active == True)  # noqa: E712
        if not ctx.is_admin:
            found = found.where(Operator.id == ctx.operator.id)
        picks = [
            {"id": op.id, "name": op.name, "selected": op.id == client.responsible_id}
            for op in found.order_by(Operator.name).limit(PICK_LIMIT)
        ]
        return [*picks, {"id": 0, "name": "Nobody", "selected": client.responsible_id is None}]
    if kind not in ("lists", "labels"):
        raise CommandError(f"Unknown picker {kind!r}; known: lists, labels, operators.")
    model: Any = MailingList if kind == "lists" else Label
    member: Any = ListMembership if kind == "lists" else LabelMembership
    column = member.mailing_list if kind == "lists" else member.label
    have = {row[0] for row in member.select(column).where(member.client == client.id).tuples()}
    items = model.select(model.id, model.name).order_by(model.name).limit(PICK_LIMIT)
    return [{"id": i.id, "name": i.name, "selected": i.id in have} for i in items]
