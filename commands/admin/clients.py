"""/clients: a page of client cards with tabs (F10), pages, and a selection mode (F9).

The list's state (filter text, tab, page, selection) lives server-side behind one token
(``commands.admin.tokens``, kind ``list``); every button carries ``cl:<token>:<action>``, a
few dozen bytes whatever the selection holds. Actions: ``t:TAB`` switch tab, ``p:N`` page,
``s`` start selecting, ``x:ID`` toggle a client, ``a`` select all matching, ``n`` select none,
``d`` stop selecting, ``b`` bulk actions on the selection (``commands.admin.bulk``).
"""

from __future__ import annotations

from typing import Any, Final

import peewee as pw

from commands.admin import tokens
from commands.admin.cards import load_card_data, short_card
from commands.admin.context import CommandContext, CommandError
from commands.admin.registry import ADMIN_COMMANDS
from commands.admin.reply import Button, Reply
from store.clients.query import (
    Page,
    compile_filter,
    count_clients,
    page_clients,
    select_clients,
)
from store.filters import ClientFilter, FilterError
from store.filters.registry import TABS
from store.filters.sql import CLIENT_ID, tab

PAGE_SIZE: Final = 10  # cards per message
TAB_LABELS: Final = {
    "all": "All",
    "unanswered": "Unanswered",
    "mine": "Mine",
    "others": "Others",
    "free": "Free",
}
MAX_PICKED: Final = 1000  # clients toggled one by one; "select all" has no limit


def parse(ctx: CommandContext, text: str) -> ClientFilter:
    """The filter text checked for this operator; a bad term is a one-line ``CommandError``."""
    try:
        return compile_filter(text, ctx.operator, ctx.settings.zone)
    except FilterError as exc:
        raise CommandError(f"Filter: {exc}") from None


def with_tab(text: str, tab_name: str) -> str:
    return text if tab_name == "all" else f"{text} tab:{tab_name}".strip()


def tab_counts(flt: ClientFilter, ctx: CommandContext) -> dict[str, int]:
    """How many of the filter's clients each tab holds, in one query, within the viewer's
    scope (an operator's Others is always 0: other operators' clients are not theirs to see)."""

    def count_if(cond: pw.ColumnBase | None) -> Any:
        if cond is None:
            return pw.fn.COUNT(CLIENT_ID)
        return pw.fn.COALESCE(pw.fn.SUM(pw.Case(None, [(cond, 1)], 0)), 0)

    fields = [count_if(tab(name, ctx.operator.id)).alias(name) for name in TABS]
    row: Any = select_clients(flt, ctx.operator, *fields).dicts().get()
    return {name: int(row[name] or 0) for name in TABS}


def selection_text(state: dict[str, Any]) -> str:
    """The selection as filter text: the list's filter and tab, and, for clients picked by
    hand, ``client:ID,...`` (exact ids), so bulk actions and their audit see one filter."""
    text = with_tab(state["f"], state["tab"])
    if state.get("all"):
        return text
    ids = ",".join(str(int(i)) for i in state.get("ids", [])) or "0"
    return f"{text} client:{ids}".strip()


def selection_size(ctx: CommandContext, state: dict[str, Any]) -> int:
    """How many clients the selection holds, within the viewer's scope."""
    return int(count_clients(parse(ctx, selection_text(state)), ctx.operator))


def _page(ctx: CommandContext, flt: ClientFilter, number: int, total: int) -> Page:
    """Page ``number`` of the list; ``total`` is the tab's count, already known from
    ``tab_counts``, so the page costs one query, not two."""
    return page_clients(flt, ctx.operator, page=number, per_page=PAGE_SIZE, total=total)


def render(ctx: CommandContext, token: str, state: dict[str, Any], *, edit: bool) -> Reply:
    base = parse(ctx, state["f"])
    flt = parse(ctx, with_tab(state["f"], state["tab"]))
    counts = tab_counts(base, ctx)
    page = _page(ctx, flt, state["page"], counts[state["tab"]])
    if page.number > page.pages:  # the list shrank since the button was drawn
        state["page"] = page.pages
        page = _page(ctx, flt, page.pages, page.total)
    data = load_card_data([c.id for c in page.clients], ctx)
    where = f" matching {state['f']!r}" if state["f"] else ""
    head = (
        f"Clients{where} — {TAB_LABELS[state['tab']]}: {page.total}"
        f" (page {page.number}/{page.pages})"
    )
    selecting = bool(state.get("sel"))
    picked = {int(i) for i in state.get("ids", [])}
    if selecting:
        chosen = page.total if state.get("all") else len(picked)
        head += f"\nSelecting: {chosen} chosen. Tap clients to choose them."
    cards = [short_card(c.id, data, ctx) for c in page.clients]
    text = "\n\n".join([head, *cards]) if cards else head + "\nNo clients here."
    rows: list[list[Button]] = []
    for client in page.clients:
        label = f"#{client.id} {client.name or client.messenger_id}"[:40]
        if selecting:
            mark = "☑️" if state.get("all") or client.id in picked else "⬜"
            rows.append([Button(f"{mark} {label}", data=f"cl:{token}:x:{client.id}")])
        else:
            rows.append([Button(label, data=f"co:{client.id}")])
    tabs = [
        Button(
            ("• " if name == state["tab"] else "") + f"{TAB_LABELS[name]} {counts[name]}",
            data=f"cl:{token}:t:{name}",
        )
        for name in TABS
    ]
    rows.extend([tabs[:3], tabs[3:]])
    nav = []
    if page.number > 1:
        nav.append(Button("◀ Previous", data=f"cl:{token}:p:{page.number - 1}"))
    if page.number < page.pages:
        nav.append(Button("Next ▶", data=f"cl:{token}:p:{page.number + 1}"))
    if nav:
        rows.append(nav)
    if selecting:
        rows.append(
            [
                Button(f"Select all {page.total} matching", data=f"cl:{token}:a"),
                Button("Select none", data=f"cl:{token}:n"),
            ]
        )
        rows.append(
            [
                Button("Actions on the chosen…", data=f"cl:{token}:b"),
                Button("Done", data=f"cl:{token}:d"),
            ]
        )
    else:
        rows.append([Button("☑️ Select clients", data=f"cl:{token}:s")])
        if not state["f"]:
            from commands.admin.saved import saved_buttons  # saved imports this module

            rows.extend(saved_buttons(ctx))
    return Reply(text, rows, edit=edit)


@ADMIN_COMMANDS.command(
    "clients",
    "/clients [FILTER...]",
    "A page of client cards with tabs, pages and selection (/filters help for FILTER).",
)
def clients_command(ctx: CommandContext, args: str) -> Reply:
    parse(ctx, args)  # refuse a bad filter before anything is stored
    state: dict[str, Any] = {"f": args, "tab": "all", "page": 1, "sel": False, "ids": []}
    token = tokens.put(ctx.operator.id, "list", state)
    return render(ctx, token, state, edit=False)


def list_state(ctx: CommandContext, token: str) -> dict[str, Any]:
    state = tokens.get(token, ctx.operator.id, "list")
    if state is None:
        raise CommandError("This list has expired: send /clients again.")
    return state


@ADMIN_COMMANDS.button("cl")
def clients_button(ctx: CommandContext, payload: str) -> Reply:
    token, _, rest = payload.partition(":")
    action, _, arg = rest.partition(":")
    state = list_state(ctx, token)
    if action == "t" and arg in TABS:
        state.update(tab=arg, page=1, all=False, ids=[])
    elif action == "p" and arg.isdigit() and int(arg) >= 1:
        state["page"] = int(arg)
    elif action == "s":
        state.update(sel=True, all=False, ids=[])
    elif action == "d":
        state.update(sel=False, all=False, ids=[])
    elif action == "n":
        state.update(all=False, ids=[])
    elif action == "a":
        state.update(sel=True, all=True, ids=[])
    elif action == "x" and arg.isdigit():
        state = _toggle(ctx, state, int(arg))
    elif action == "b":
        from commands.admin.bulk import selection_menu

        return selection_menu(ctx, token, state)
    else:
        raise CommandError("Unknown list button.")
    tokens.update(token, state)
    return render(ctx, token, state, edit=True)


def _toggle(ctx: CommandContext, state: dict[str, Any], client_id: int) -> dict[str, Any]:
    if state.get("all"):
        # Leaving "all matching" for a hand-picked set: everything on screen stays chosen.
        flt = parse(ctx, with_tab(state["f"], state["tab"]))
        page = page_clients(flt, ctx.operator, page=state["page"], per_page=PAGE_SIZE)
        state.update(all=False, ids=[c.id for c in page.clients])
    ids = [int(i) for i in state.get("ids", [])]
    if client_id in ids:
        ids.remove(client_id)
    elif len(ids) >= MAX_PICKED:
        raise CommandError(f"At most {MAX_PICKED} picked by hand; use Select all matching.")
    else:
        ids.append(client_id)
    state["ids"] = ids
    return state
