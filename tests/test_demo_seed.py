"""The demo's sample data: what a newcomer's first `/clients` commands will find."""

from __future__ import annotations

import zoneinfo

import peewee

from commands.demo_seed import DemoBot, seed
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
