"""/client ID: the full card (F14), its menu and the dialog (F7); opening it clears unread.

Menu buttons carry ``cm:<client id>:<action>[:<arg>]``; dialog pages ``cd:<client id>:<page>``;
a card in a list opens with ``co:<client id>``. Every press checks again that the operator may
act on the client (admins: any; operators: their own and free ones) and, per action, holds the
capability it needs (Delete: ``delete``; Reply and Comment: ``reply``). With ``view_others``
an operator opens other operators' clients read-only: the card and dialog, no menu.
"""

from __future__ import annotations

from typing import Any

from commands.admin import pending
from commands.admin.args import split_args
from commands.admin.assignment import client_for, may_act
from commands.admin.cards import full_card
from commands.admin.context import CommandContext, CommandError, Refused
from commands.admin.dialog import dialog_page
from commands.admin.joins import pending_rows
from commands.admin.miniapp import open_in_app_row
from commands.admin.registry import ADMIN_COMMANDS, refusal
from commands.admin.reply import Button, Reply
from config import CAPABILITIES
from store.assignment import assign
from store.clients.unread import is_unread, mark_read, mark_unread
from store.db import write_transaction
from store.models import (
    AuditLog,
    Client,
    Label,
    LabelMembership,
    ListMembership,
    MailingList,
    Operator,
)

PICK_LIMIT = 24  # lists, labels or operators offered as buttons at once
# Menu actions that need a capability besides being allowed to act on the client.
ACTION_CAPABILITY = {"d": "delete", "D": "delete", "r": "reply", "k": "reply"}


def audit(ctx: CommandContext, action: str, client_id: int, **detail: Any) -> None:
    AuditLog.create(
        operator=ctx.operator.id,
        action=action,
        filter_text=f"client {client_id}",
        count=1,
        detail=detail,
    )


def mark_read_on_open(ctx: CommandContext, client: Client) -> None:
    """Opening a dialog clears its unread mark (F10: any operator's opening clears Unanswered),
    except another operator's client shown read-only. The admin bot and the Mini App both ask."""
    # Tested first: opening an already read dialog (most openings) writes nothing, and so
    # never waits for SQLite's write lock behind ingest.
    if may_act(ctx, client) and is_unread(client.id):
        mark_read([client.id])


def open_client(ctx: CommandContext, client: Client, page: int = 1, *, edit: bool = False) -> Reply:
    """The card, the dialog page and the menu; marks the dialog read (F10: any operator's
    opening clears Unanswered) unless it is another operator's client, shown read-only."""
    if page == 1:
        mark_read_on_open(ctx, client)
    dialog, pages = dialog_page(client, ctx, page)
    text = f"{full_card(client.id, ctx)}\n\n{dialog}"
    if not may_act(ctx, client):
        text += "\n\n👁 Another operator's client: you can read, not act."
        rows = menu(client, page, pages, read_only=True) + open_in_app_row(ctx, client.id)
        return Reply(text, rows, edit=edit)
    rows = pending_rows(client.id) + menu(client, page, pages, allowed=ctx.capabilities)
    return Reply(text, rows + open_in_app_row(ctx, client.id), edit=edit)


def menu(
    client: Client,
    page: int = 1,
    pages: int = 1,
    *,
    allowed: frozenset[str] = frozenset(CAPABILITIES),
    read_only: bool = False,
) -> list[list[Button]]:
    """The card's buttons for an operator with capabilities ``allowed``; ``read_only``: only
    the dialog's pages."""
    cid = client.id
    rows: list[list[Button]] = []
    if not read_only:
        rows = [
            [
                Button("✍️ Reply", data=f"cm:{cid}:r"),
                Button("💬 Comment", data=f"cm:{cid}:k"),
            ],
            [
                Button("🔵 Mark unread", data=f"cm:{cid}:u"),
                Button("Unpin" if client.pinned else "📌 Pin", data=f"cm:{cid}:p"),
            ],
            [
                Button("Unblock" if client.blocked else "⛔ Block", data=f"cm:{cid}:b"),
                Button("🗑 Delete", data=f"cm:{cid}:d"),
            ],
            [
                Button("👤 Assign…", data=f"cm:{cid}:a"),
                Button("Lists…", data=f"cm:{cid}:l"),
                Button("Labels…", data=f"cm:{cid}:g"),
            ],
        ]
        may = ("", *allowed)
        rows = [
            [b for b in row if ACTION_CAPABILITY.get(str(b.data).split(":")[2], "") in may]
            for row in rows
        ]
        rows = [row for row in rows if row]
    nav = []
    if page < pages:
        nav.append(Button("◀ Older", data=f"cd:{cid}:{page + 1}"))
    if page > 1:
        nav.append(Button("Newer ▶", data=f"cd:{cid}:{page - 1}"))
    if nav:
        rows.append(nav)
    return rows


@ADMIN_COMMANDS.command(
    "client", "/client ID", "A client's full card, menu and dialog; clears its unread mark."
)
def client_command(ctx: CommandContext, args: str) -> Reply:
    words = split_args(args)
    if len(words) != 1:
        raise CommandError("Give one client id (a number, as /clients shows).")
    return open_client(ctx, client_for(ctx, words[0], viewing=True))


@ADMIN_COMMANDS.button("co")
def open_button(ctx: CommandContext, payload: str) -> Reply:
    return open_client(ctx, client_for(ctx, payload, viewing=True))


@ADMIN_COMMANDS.button("cd")
def dialog_button(ctx: CommandContext, payload: str) -> Reply:
    word, _, page = payload.partition(":")
    if not page.isdigit():
        raise CommandError("Unknown page.")
    return open_client(ctx, client_for(ctx, word, viewing=True), int(page), edit=True)


@ADMIN_COMMANDS.button("cm")
def menu_button(ctx: CommandContext, payload: str) -> Reply:
    word, _, rest = payload.partition(":")
    action, _, arg = rest.partition(":")
    client = client_for(ctx, word)
    cid = client.id
    needed = ACTION_CAPABILITY.get(action)
    if needed is not None and not ctx.can(needed):
        raise Refused(refusal("this button", needed))
    if action == "u":
        mark_unread([cid])
        audit(ctx, "mark_unread", cid)
        return Reply(f"Client {cid} is unread again (tab Unanswered).", notice="Marked unread")
    if action == "p":
        Client.update(pinned=not client.pinned).where(Client.id == cid).execute()
        audit(ctx, "unpin" if client.pinned else "pin", cid)
        return _refreshed(ctx, cid, "Unpinned" if client.pinned else "Pinned")
    if action == "b":
        Client.update(blocked=not client.blocked).where(Client.id == cid).execute()
        audit(ctx, "unblock" if client.blocked else "block", cid)
        return _refreshed(ctx, cid, "Unblocked" if client.blocked else "Blocked")
    if action == "d":
        return Reply(
            f"Delete client {cid} ({client.name}) with all their messages? This cannot be undone.",
            [[Button("🗑 Yes, delete", data=f"cm:{cid}:D"), Button("Cancel", data=f"cm:{cid}:c")]],
        )
    if action == "D":
        with write_transaction():
            deleted = Client.delete().where(Client.id == cid).execute()
            audit(ctx, "delete", cid, name=client.name)
        return Reply(f"Client {cid} deleted." if deleted else f"Client {cid} was already gone.")
    if action == "c":
        return Reply("Cancelled: nothing was deleted.", edit=True)
    if action == "r":
        pending.wait_for(ctx.operator.id, "reply", {"client": cid})
        return Reply(f"Send the reply to {client.name} (#{cid}), or /cancel.")
    if action == "k":
        pending.wait_for(ctx.operator.id, "comment", {"client": cid})
        return Reply(f"Send the internal comment on #{cid}, or /cancel.")
    if action in ("a", "A"):
        return _assign(ctx, client, action, arg)
    if action in ("l", "L", "g", "G"):
        return _memberships(ctx, client, action, arg)
    if action in ("Ln", "Gn"):
        what = "list" if action == "Ln" else "label"
        pending.wait_for(ctx.operator.id, "new_" + what, {"client": cid})
        return Reply(f"Send the name of the {what} to add #{cid} to, or /cancel.")
    raise CommandError("Unknown menu button.")


def _refreshed(ctx: CommandContext, client_id: int, notice: str) -> Reply:
    reply = open_client(ctx, Client.get_by_id(client_id), edit=True)
    reply.notice = notice
    return reply


def _assign(ctx: CommandContext, client: Client, action: str, arg: str) -> Reply:
    cid = client.id
    if action == "a":
        choices = [Button("Me", data=f"cm:{cid}:A:{ctx.operator.id}")]
        if ctx.is_admin:
            others = (
                Operator.select()
                .where((Operator.active == True) & (Operator.id != ctx.operator.id))  # noqa: E712
                .order_by(Operator.name)
                .limit(PICK_LIMIT)
            )
            choices += [Button(op.name[:30], data=f"cm:{cid}:A:{op.id}") for op in others]
        choices.append(Button("Nobody", data=f"cm:{cid}:A:0"))
        rows = [choices[i : i + 3] for i in range(0, len(choices), 3)]
        return Reply(f"Who answers {client.name} (#{cid})?", rows)
    if not arg.isdigit():
        raise CommandError("Unknown operator.")
    target_id = int(arg) or None
    target = Operator.get_or_none((Operator.id == target_id) & (Operator.active == True))  # noqa: E712
    if target_id is not None and target is None:
        raise CommandError("That operator is no longer active.")
    if not ctx.is_admin and target_id not in (None, ctx.operator.id):
        raise CommandError("Operators can take clients for themselves or free them.")
    assign([cid], target_id)
    audit(ctx, "assign", cid, to=target.telegram_id if target else None)
    return _refreshed(ctx, cid, f"Bound to {target.name if target else 'nobody'}")


def _memberships(ctx: CommandContext, client: Client, action: str, arg: str) -> Reply:
    """Toggle the client's lists (``l``/``L``) or labels (``g``/``G``) from buttons."""
    cid = client.id
    is_list = action in ("l", "L")
    model: Any = MailingList if is_list else Label
    member: Any = ListMembership if is_list else LabelMembership
    column = member.mailing_list if is_list else member.label
    what = "list" if is_list else "label"
    if action in ("L", "G"):
        if not arg.isdigit() or model.get_or_none(model.id == int(arg)) is None:
            raise CommandError(f"That {what} no longer exists.")
        with write_transaction():
            removed = member.delete().where((member.client == cid) & (column == int(arg))).execute()
            if not removed:
                member.insert({member.client: cid, column: int(arg)}).on_conflict_ignore().execute()
            audit(ctx, f"{what}_{'remove' if removed else 'add'}", cid, id=int(arg))
    return _membership_menu(client, is_list, edit=action in ("L", "G"))


def _membership_menu(client: Client, is_list: bool, *, edit: bool) -> Reply:
    cid = client.id
    model: Any = MailingList if is_list else Label
    member: Any = ListMembership if is_list else LabelMembership
    column = member.mailing_list if is_list else member.label
    have = {row[0] for row in member.select(column).where(member.client == cid).tuples()}
    code, what = ("L", "list") if is_list else ("G", "label")
    rows = []
    for item in model.select().order_by(model.name).limit(PICK_LIMIT):
        mark = "✅ " if item.id in have else "▫️ "
        rows.append([Button(mark + item.name[:40], data=f"cm:{cid}:{code}:{item.id}")])
    rows.append([Button(f"➕ New {what}…", data=f"cm:{cid}:{code}n")])
    text = f"{what.capitalize()}s of {client.name} (#{cid}): tap to add or remove."
    return Reply(text, rows, edit=edit)


def add_to_named(ctx: CommandContext, client_id: int, name: str, is_list: bool) -> Reply:
    """Put the client in the list or label ``name``, creating it when new."""
    name = name.strip()
    what = "list" if is_list else "label"
    if not name or len(name) > 200:
        raise CommandError(f"A {what} name has 1 to 200 characters.")
    client = client_for(ctx, str(client_id))
    model: Any = MailingList if is_list else Label
    member: Any = ListMembership if is_list else LabelMembership
    column = member.mailing_list if is_list else member.label
    with write_transaction():
        item, _ = model.get_or_create(name=name)
        member.insert({member.client: client.id, column: item.id}).on_conflict_ignore().execute()
        audit(ctx, f"{what}_add", client.id, name=name)
    pending.clear(ctx.operator.id)
    return _membership_menu(client, is_list, edit=False)


@ADMIN_COMMANDS.awaiting("new_list")
def new_list_input(ctx: CommandContext, text: str, data: dict[str, Any]) -> Reply:
    return add_to_named(ctx, int(data["client"]), text, True)


@ADMIN_COMMANDS.awaiting("new_label")
def new_label_input(ctx: CommandContext, text: str, data: dict[str, Any]) -> Reply:
    return add_to_named(ctx, int(data["client"]), text, False)
