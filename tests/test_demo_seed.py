"""The demo's sample data: what a newcomer's first `/clients` commands will find."""

from __future__ import annotations

import re
import zoneinfo

import peewee
from hypothesis import given
from hypothesis import strategies as st

from commands.demo_seed import (
    FEMALE_NAMES_RU,
    FIRST_NAMES_EN,
    FIRST_NAMES_RU,
    MALE_NAMES_RU,
    DemoBot,
    latin_username,
    seed,
)
from store.clients.query import compile_filter, count_clients
from store.models import Bot, Client, Message, Operator, Variable

BOTS = (
    DemoBot("demo_tg", "telegram", 0.6),
    DemoBot("demo_wa", "whatsapp", 0.3),
    DemoBot("demo_mail", "email", 0.1),
)


def _setup() -> Operator:
    for bot in BOTS:
        Bot.create(name=bot.name, kind=bot.kind)
    Operator.create(telegram_id=222, name="Борис", role="operator")
    return Operator.create(telegram_id=111, name="Анна", role="admin")


def test_seed_fills_every_part_the_filters_look_at(db: peewee.Database) -> None:
    admin = _setup()
    summary = seed(BOTS, clients=200)
    assert summary.clients == Client.select().count() == 200
    assert summary.messages == Message.select().count() > 200
    assert summary.first_telegram_user is not None
    utc = zoneinfo.ZoneInfo("UTC")

    def count(text: str) -> int:
        return count_clients(compile_filter(text, admin, utc), admin)

    assert count("channel:demo_tg") > count("channel:demo_wa") > count("channel:demo_mail") > 0
    assert 0 < count("search:ксения") < 200  # Cyrillic search finds the Russian names
    assert 0 < count("list:VIP") < count("-list:VIP")
    assert 0 < count("var:Размер=XS") < 200
    assert 0 < count("unanswered") < 200
    assert count("responsible:Борис") > 0
    # Every client has its variables and a message on its own bot.
    assert Variable.select().where(Variable.name == "Город").count() == 200
    wrong_bot = Message.select().join(Client).where(Message.bot != Client.bot).count()
    assert wrong_bot == 0


def test_seed_again_adds_new_clients_without_clashing(db: peewee.Database) -> None:
    _setup()
    first = seed(BOTS, clients=50)
    second = seed(BOTS, clients=50, seed=8)
    assert first.clients == second.clients == 50
    assert Client.select().count() == 100


def test_seed_data_is_realistic(db: peewee.Database) -> None:
    """Latin Telegram usernames, gendered Russian surnames that agree with the first name,
    dialogs that open with the client at first contact, unsubscribed clients silent after."""
    _setup()
    seed(BOTS, clients=300)
    telegram = Client.select().join(Bot).where(Bot.kind == "telegram")
    usernames = [c.username for c in telegram]
    assert usernames and all(re.fullmatch(r"[a-z][a-z0-9_]{4,31}", u or "") for u in usernames)
    for client in Client.select():
        first, last = client.name.split(" ")
        if first in FEMALE_NAMES_RU:
            assert last.endswith(("ова", "ева", "ёва")), client.name
        elif first in MALE_NAMES_RU:
            assert last.endswith(("ов", "ев", "ёв")), client.name
        dialog = list(
            Message.select()
            .where(Message.client == client)
            .order_by(Message.created_at, Message.id)
        )
        assert dialog[0].created_at >= client.created_at, client.name
        assert dialog[0].direction == "in"  # the client wrote first
        assert dialog[-1].created_at <= client.last_action_at
    unsubscribed = Client.select().where(Client.unsubscribed == True)  # noqa: E712
    assert unsubscribed.count() > 0
    late = (
        Message.select()
        .join(Client)
        .where(
            Client.unsubscribed == True,  # noqa: E712
            Message.direction == "in",
            Message.created_at > Client.last_action_at,
        )
    )
    assert late.count() == 0


@given(st.sampled_from(FIRST_NAMES_RU + FIRST_NAMES_EN), st.integers(0, 10**9))
def test_usernames_are_valid_telegram_usernames(first: str, index: int) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9_]{4,31}", latin_username(first, index))
