"""Sample data for ``switchboard demo``: a small shop's clients, dialogs, lists and funnel.

Deterministic for a given ``seed`` so a demo (and its test) can name what it will find:
Russian and English names, clients across the demo's bots, messages in both directions,
lists, labels, variables, blocks with history, deal stages and a few unsubscribed clients.
Written with a handful of ``insert_many`` statements, not one transaction per client.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from peewee import fn

from store.clients.unread import mark_unread
from store.clock import utcnow
from store.db import database_proxy
from store.models import (
    Block,
    BlockHistory,
    Bot,
    Client,
    Label,
    LabelMembership,
    ListMembership,
    MailingList,
    Message,
    Operator,
    Variable,
)

FEMALE_NAMES_RU = (
    "Ксения",
    "Анна",
    "Мария",
    "Ольга",
    "Екатерина",
    "Наталья",
    "Татьяна",
    "Юлия",
)
MALE_NAMES_RU = ("Дмитрий", "Иван", "Сергей", "Алексей", "Михаил", "Павел", "Артём")
FIRST_NAMES_RU = FEMALE_NAMES_RU + MALE_NAMES_RU
# Masculine forms; a woman's surname adds "а" (Иванов -> Иванова), as these all do.
LAST_NAMES_RU = (
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Соколов",
    "Лебедев",
    "Козлов",
    "Новиков",
    "Морозов",
    "Петров",
    "Волков",
    "Соловьёв",
    "Васильев",
)
FEMALE_NAMES_EN = ("Emma", "Olivia", "Ava", "Sophia", "Mia", "Grace")
FIRST_NAMES_EN = (*FEMALE_NAMES_EN, "Liam", "Noah", "James", "Lucas", "Henry", "Oscar")
# Telegram usernames are Latin letters, digits and "_": Russian names are transliterated.
_LATIN = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya".split(),  # noqa: SIM905
        strict=True,
    )
)
LAST_NAMES_EN = (
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Wilson",
    "Davies",
    "Evans",
    "Clarke",
    "Walker",
    "Wright",
)

LISTS = ("VIP", "Gold", "Рассылка", "Spam")
LABELS = ("hot", "cold", "оптовик", "new")
BLOCKS = ("Приветствие", "Каталог", "Оплата", "Доставка")
STAGES = ("Новый", "Переговоры", "Оплата", "Закрыт")
SIZES = ("XS", "S", "M", "L", "XL")
CITIES = ("Москва", "Казань", "London", "Berlin", "Новосибирск")

INBOUND_TEXTS = (
    "Здравствуйте! Есть ли платье в размере {size}?",
    "Сколько стоит доставка в {city}?",
    "Hi! Do you ship to {city}?",
    "Хочу оформить заказ, как оплатить?",
    "Is the blue one still available in {size}?",
    "Спасибо, всё получила!",
    "Можно поменять размер на {size}?",
    "When will my order arrive?",
)
OUTBOUND_TEXTS = (
    "Добрый день! Да, размер {size} есть в наличии.",
    "Доставка в {city} — 2–3 дня, бесплатно от 5000 ₽.",
    "Hello! Yes, we ship to {city} within a week.",
    "Ссылка на оплату отправлена, спасибо за заказ!",
)


@dataclass(frozen=True, slots=True)
class DemoBot:
    """A bot of the demo and how its clients' messenger ids look."""

    name: str
    kind: str  # telegram | whatsapp | email
    share: float  # fraction of the clients, 0..1


@dataclass(frozen=True, slots=True)
class SeedSummary:
    clients: int
    messages: int
    unread: int
    first_telegram_user: int | None


def messenger_id(kind: str, index: int, first: str, last: str) -> str:
    """A plausible id per messenger: Telegram user id, E.164 digits, an email address."""
    if kind == "telegram":
        return str(5_000_000 + index)
    if kind == "whatsapp":
        return f"7900{index:07d}"
    return f"client{index}@example.com"


def _names(rng: random.Random) -> tuple[str, str]:
    """A first and last name of one gender (Russian surnames agree with the first name)."""
    if rng.random() < 0.65:
        first, last = rng.choice(FIRST_NAMES_RU), rng.choice(LAST_NAMES_RU)
        return first, last + "а" if first in FEMALE_NAMES_RU else last
    return rng.choice(FIRST_NAMES_EN), rng.choice(LAST_NAMES_EN)


def latin_username(first: str, index: int) -> str:
    """A valid Telegram username (5–32 of a–z, 0–9, "_", starting with a letter)."""
    latin = "".join(_LATIN.get(ch, ch) for ch in first.lower()).replace("-", "")
    return f"{latin}_{index}"


def _by_name(model: Any, names: Sequence[str]) -> dict[str, int]:
    for name in names:
        model.get_or_create(name=name)
    return {row.name: row.id for row in model.select().where(model.name.in_(list(names)))}


def _chunks(rows: list[dict[str, Any]], size: int = 500) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def seed(bots: Sequence[DemoBot], clients: int = 300, *, seed: int = 7) -> SeedSummary:
    """Insert ``clients`` sample clients spread over ``bots`` (which must exist in the store)."""
    rng = random.Random(seed)
    now = utcnow().replace(microsecond=0)
    bot_ids = {b.name: Bot.get(Bot.name == b.name).id for b in bots}
    operators = [op.id for op in Operator.select().where(Operator.role == "operator")]
    with database_proxy.atomic():
        lists, labels, blocks = (
            _by_name(MailingList, LISTS),
            _by_name(Label, LABELS),
            _by_name(Block, BLOCKS),
        )
        before = Client.select(fn.MAX(Client.id)).scalar() or 0
        start = Client.select().count()
        client_rows = []
        unread_flags: list[bool] = []
        weights = [b.share for b in bots]
        for i in range(start, start + clients):
            bot = rng.choices(bots, weights)[0]
            first, last = _names(rng)
            created = now - dt.timedelta(days=rng.uniform(0, 500))
            last_action = min(now, created + dt.timedelta(days=rng.uniform(0, 60)))
            client_rows.append(
                {
                    "bot": bot_ids[bot.name],
                    "messenger_id": messenger_id(bot.kind, i, first, last),
                    "name": f"{first} {last}",
                    "username": latin_username(first, i) if bot.kind == "telegram" else None,
                    "language": "ru" if first in FIRST_NAMES_RU else "en",
                    "created_at": created,
                    "last_action_at": last_action,
                    "block": blocks[rng.choice(BLOCKS)],
                    "deal_stage": rng.choice(STAGES),
                    "responsible": rng.choice(operators)
                    if operators and rng.random() < 0.5
                    else None,
                    "unsubscribed": rng.random() < 0.04,
                    "blocked": rng.random() < 0.02,
                    "pinned": rng.random() < 0.02,
                }
            )
            unread_flags.append(rng.random() < 0.3)  # drawn last in the row, as before
        for chunk in _chunks(client_rows):
            Client.insert_many(chunk).execute()
        seeded = list(
            Client.select(
                Client.id,
                Client.bot,
                Client.block,
                Client.messenger_id,
                Client.created_at,
                Client.last_action_at,
            )
            .where(Client.id > before)
            .order_by(Client.id)
        )
        unread_ids = {c.id for c, flag in zip(seeded, unread_flags, strict=True) if flag}
        mark_unread(unread_ids)
        summary = _seed_details(rng, seeded, unread_ids, lists, labels, blocks)
    telegram_bots = [bot_ids[b.name] for b in bots if b.kind == "telegram"]
    first_tg = next((int(c.messenger_id) for c in seeded if c.bot_id in telegram_bots), None)
    return SeedSummary(len(seeded), summary, len(unread_ids), first_tg)


def _seed_details(
    rng: random.Random,
    seeded: list[Client],
    unread_ids: set[int],
    lists: dict[str, int],
    labels: dict[str, int],
    blocks: dict[str, int],
) -> int:
    variables, list_rows, label_rows, history, messages = [], [], [], [], []
    for client in seeded:
        size, city = rng.choice(SIZES), rng.choice(CITIES)
        variables.append({"client": client.id, "name": "Размер", "value": size})
        variables.append({"client": client.id, "name": "Город", "value": city})
        if rng.random() < 0.5:
            variables.append(
                {"client": client.id, "name": "Цена", "value": str(rng.randrange(990, 9990, 100))}
            )
        for name in rng.sample(LISTS, rng.choice((0, 1, 1, 2))):
            list_rows.append({"client": client.id, "mailing_list": lists[name]})
        for name in rng.sample(LABELS, rng.choice((0, 1, 2))):
            label_rows.append({"client": client.id, "label": labels[name]})
        path = BLOCKS[
            : BLOCKS.index(next(n for n, i in blocks.items() if i == client.block_id)) + 1
        ]
        for step, name in enumerate(path):
            history.append(
                {
                    "client": client.id,
                    "block": blocks[name],
                    "entered_at": min(
                        client.last_action_at, client.created_at + dt.timedelta(hours=step)
                    ),
                }
            )
        # The dialog opens with the client's first message at first contact (created_at) and
        # ends at last_action_at; an unsubscribed client unsubscribed then and stays silent.
        count = rng.randint(1, 4)
        span = (client.last_action_at - client.created_at) / max(count - 1, 1)
        for n in range(count):
            inbound = n % 2 == 0 or (client.id in unread_ids and n == count - 1)
            pool = INBOUND_TEXTS if inbound else OUTBOUND_TEXTS
            at = min(client.created_at + span * n, client.last_action_at)  # span rounds
            messages.append(
                {
                    "client": client.id,
                    "bot": client.bot_id,
                    "direction": "in" if inbound else "out",
                    "author_kind": "client" if inbound else "operator",
                    "text": rng.choice(pool).format(size=size, city=city),
                    "created_at": at,
                    "updated_at": at,
                    "status": None if inbound else "delivered",
                    "dedup_key": f"demo:{client.id}:{n}" if inbound else None,
                }
            )
    for model, rows in (
        (Variable, variables),
        (ListMembership, list_rows),
        (LabelMembership, label_rows),
        (BlockHistory, history),
        (Message, messages),
    ):
        for chunk in _chunks(rows):
            model.insert_many(chunk).execute()
    return len(messages)
