"""A card's last message (``commands.admin.cards.load_card_data``, the admin bot's and the Mini
App's cards) is the newest of the client's dialog in the dialog's order — ``created_at``, then
id — service events left out, for every client of a page at once; on both databases."""

from __future__ import annotations

import datetime as dt

import peewee
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.admin.cards import load_card_data
from store.models import Client, Message
from tests import factories
from tests.admin_support import make_staff

T0 = dt.datetime(2026, 12, 6, 9, 0)
KINDS = ("client", "bot", "operator", "comment", "system")
# (minutes after T0, author kind) of each message, in the order they are inserted.
DIALOG = st.lists(st.tuples(st.integers(0, 5), st.sampled_from(KINDS)), max_size=8)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(dialogs=st.lists(DIALOG, min_size=1, max_size=3))
def test_the_last_message_is_the_dialogs_newest_said(
    db: peewee.Database, dialogs: list[list[tuple[int, str]]]
) -> None:
    ctx = make_staff()["admin"]  # the operators are created once, then found
    expected: dict[int, int] = {}
    ids = []
    for dialog in dialogs:
        client = factories.client(f"c{Client.select().count()}")
        ids.append(client.id)
        said: list[tuple[dt.datetime, int]] = []
        for minutes, kind in dialog:
            at = T0 + dt.timedelta(minutes=minutes)
            row = Message.create(
                client=client,
                bot=client.bot_id,
                direction="in" if kind in ("client", "system") else "out",
                author_kind=kind,
                text=f"{kind} at {minutes}",
                created_at=at,
                updated_at=at,
            )
            if kind != "system":
                said.append((at, row.id))
        if said:
            expected[client.id] = max(said)[1]
    card = load_card_data(ids, ctx)
    assert {c: m.id for c, m in card.last.items()} == expected
