"""/clients: a page of client cards with tabs (F10), pages, and a selection mode (F9).

The list's state (filter text, tab, page, selection) lives server-side behind one token
(``commands.admin.tokens``, kind ``list``); every button carries ``cl:<token>:<action>``, a
few dozen bytes whatever the selection holds. Actions: ``t:TAB`` switch tab, ``p:N`` page,
``s`` start selecting, ``x:ID`` toggle a client, ``a`` select all matching, ``n`` select none,
``d`` stop selecting, ``b`` bulk actions on the selection (``commands.admin.bulk``).

Pages are keyset pages: the state keeps the cursor of every page reached by Next (``cur``:
``cur[k]`` starts page ``k + 2``), so Next and Previous show the clients after (before) the
page's edge as it was, whatever new messages moved meanwhile. Counts on the tabs and in the
head are capped (``store.clients.query.COUNT_CAP``): "10,000+" beyond.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

import peewee as pw

from commands.admin import tokens
from commands.admin.cards import load_card_data, short_card
from commands.admin.context import CommandContext, CommandError
from commands.admin.preferences import preferences_of
from commands.admin.registry import ADMIN_COMMANDS
from commands.admin.reply import Button, Reply
from store.clients import query as client_query
from store.clients.query import (
    ClientCount,
    Page,
    capped_counts,
    compile_filter,
    count_clients,
    page_clients,
    scope,
    select_clients,
    unread_rows,
)
from store.db import database_proxy
from store.filters import ClientFilter, Condition, FilterError
from store.filters.registry import TABS
from store.filters.sql import tab
from store.models import ClientUnread

PAGE_SIZE: Final = 10  # cards per message
TAB_LABELS: Final = {
    "all": "All",
    "unanswered": "Unanswered",
    "mine": "Mine",
    "others": "Others",
    "free": "Free",
}
MAX_PICKED: Final = 1000  # clients toggled one by one; "select all" has no limit
ONE_PASS_CAPS: Final = 2  # matches read once for all tab counts: 2 caps; beyond, one per tab


def parse(ctx: CommandContext, text: str) -> ClientFilter:
    """The filter text checked for this operator; a bad term is a one-line ``CommandError``."""
    try:
        return compile_filter(text, ctx.operator, ctx.settings.zone)
    except FilterError as exc:
        raise CommandError(f"Filter: {exc}") from None


def with_tab(text: str, tab_name: str) -> str:
    return text if tab_name == "all" else f"{text} tab:{tab_name}".strip()


def tab_counts(flt: ClientFilter, ctx: CommandContext) -> dict[str, ClientCount]:
    """How many of the filter's clients each tab holds, capped, within what the viewer may see
    (an operator's Others counts other operators' clients only with ``view_others``).

    First one pass over at most ``ONE_PASS_CAPS`` x ``COUNT_CAP`` matches tells every tab at
    once (a search read once, not five times); a filter matching more gets a bounded count per
    tab, each reading at most ``COUNT_CAP + 1`` rows. No filter at all skips the pass: it
    matches every client in scope, and telling which of 20,001 clients are unread cost more
    than the pass (a hash of ``client_unread``: 45 ms at a million clients on PostgreSQL).
    A tab whose clients are the unread ones by responsible is counted from ``client_unread``
    alone (``unread_rows``)."""
    view = ctx.can("view_others")
    # An operator who may not see other operators' clients has none in Others: not a query
    # (the database would read every unread or matching client to find none).
    empty = {"others"} if scope(ctx.operator, view_others=view) is not None else set()
    cap = client_query.COUNT_CAP
    one_pass = ONE_PASS_CAPS * cap
    # A filter of the unread clients by responsible (Unanswered) is counted from
    # client_unread alone, its tabs tested on that table's copy of the responsible.
    narrow = unread_rows(flt, ctx.operator, view_others=view) is not None
    column = ClientUnread.responsible if narrow else None
    flags = {name: tab(name, ctx.operator.id, column=column) for name in TABS}

    def rows(*fields: pw.Node) -> pw.Select:
        found = unread_rows(flt, ctx.operator, *fields, view_others=view)
        return (
            select_clients(flt, ctx.operator, *fields, view_others=view) if found is None else found
        )

    marks = [
        (pw.Value(1) if flags[name] is None else pw.Case(None, [(flags[name], 1)], 0)).alias(name)
        for name in TABS[1:]
    ]
    if flt.conditions:
        matches = rows(*marks).limit(one_pass + 1).alias("matches")
        sums = [pw.fn.SUM(getattr(matches.c, name)) for name in TABS[1:]]
        row = database_proxy.execute(pw.Select([matches], [pw.fn.COUNT(pw.SQL("*")), *sums]))
        found = [int(n or 0) for n in row.fetchone()]  # SUM of no rows is NULL
        if found[0] <= one_pass:
            capped = [ClientCount(min(n, cap), exact=n <= cap) for n in found]
            return dict(zip(TABS, capped, strict=True))
    queries = {}
    for name in TABS:
        if name in empty:
            continue
        as_tab = Condition("tab", (name, ctx.operator.id), False, f"tab:{name}")
        tabbed = replace(flt, conditions=(*flt.conditions, as_tab))
        narrowed = unread_rows(tabbed, ctx.operator, pw.SQL("1"), view_others=view)
        if narrowed is not None:
            queries[name] = narrowed
            continue
        query = rows(pw.SQL("1"))
        cond = flags[name]
        queries[name] = query if cond is None else query.where(cond)
    counts = capped_counts(queries)
    return {name: counts.get(name, ClientCount(0)) for name in TABS}


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


def current_page(
    ctx: CommandContext, state: dict[str, Any], count: ClientCount | None = None
) -> Page:
    """The list's page ``state["page"]``: after its cursor when Next reached it (a keyset
    page), else by offset (page 1, or an old button). ``count``: the tab's count, already
    known from ``tab_counts``, so the page costs one query, not two."""
    flt = parse(ctx, with_tab(state["f"], state["tab"]))
    number = int(state["page"])
    cursors = state.get("cur") or []
    after = cursors[number - 2] if 2 <= number <= len(cursors) + 1 else None
    view = ctx.can("view_others")  # other operators' clients too, read-only
    page = page_clients(
        flt,
        ctx.operator,
        page=number,
        per_page=PAGE_SIZE,
        after=after,
        count=count,
        view_others=view,
    )
    if after is None and page.count.exact and number > page.pages:
        # The list shrank since the button was drawn: its last page.
        page = page_clients(
            flt, ctx.operator, page=page.pages, per_page=PAGE_SIZE, count=count, view_others=view
        )
    # Keep the cursors up to this page and the one to the next, for Next and Previous.
    state["page"] = page.number
    state["cur"] = cursors[: page.number - 1] + ([page.next_cursor] if page.next_cursor else [])
    return page


def render(ctx: CommandContext, token: str, state: dict[str, Any], *, edit: bool) -> Reply:
    counts = tab_counts(parse(ctx, state["f"]), ctx)
    before = (state["page"], state.get("cur"))
    page = current_page(ctx, state, counts[state["tab"]])
    if (state["page"], state.get("cur")) != before:
        tokens.update(token, state)
    data = load_card_data([c.id for c in page.clients], ctx)
    where = f" matching {state['f']!r}" if state["f"] else ""
    of_pages = f"/{page.pages}" if page.count.exact else ""
    head = (
        f"Clients{where} — {TAB_LABELS[state['tab']]}: {page.count} (page {page.number}{of_pages})"
    )
    selecting = bool(state.get("sel"))
    picked = {int(i) for i in state.get("ids", [])}
    if selecting:
        chosen = str(page.count) if state.get("all") else len(picked)
        head += f"\nSelecting: {chosen} chosen. Tap clients to choose them."
    pref = preferences_of(ctx.operator.id)
    cards = [short_card(c.id, data, ctx, pref) for c in page.clients]
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
    if page.next_cursor is not None:
        nav.append(Button("Next ▶", data=f"cl:{token}:p:{page.number + 1}"))
    if nav:
        rows.append(nav)
    if selecting:
        rows.append(
            [
                Button(f"Select all {page.count} matching", data=f"cl:{token}:a"),
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
    state: dict[str, Any] = {
        "f": args,
        "tab": "all",
        "page": 1,
        "cur": [],
        "sel": False,
        "ids": [],
    }
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
        state.update(tab=arg, page=1, cur=[], all=False, ids=[])
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
        page = current_page(ctx, state)
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
