"""Generating a realistic client base for the client-list benchmark (issue 3).

Rows are made in Python from one seeded ``random.Random`` in chunks of ``chunk`` clients
(default 50,000) and loaded set-wise: ``executemany`` on SQLite, ``COPY ... FROM STDIN`` on
PostgreSQL. Client ids are assigned here (1..N), so the children of a chunk reference them
without reading anything back. The schema is the real one: the caller runs the migrations
up to the last one before the search indexes (0301), loads, then runs the rest, so the
trigram indexes are built in one pass like an upgrade of an existing database.

Shape of the data (per client, on average): 1.7 variables, 2 block-history rows, 0.9 list
and 1.3 label memberships, ``messages`` messages (default 2); names ~55 % Cyrillic,
~30 % Latin, the rest single names or nicknames with digits.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import peewee as pw

from store.db import is_postgres


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_RU_F = _words(
    "Ксения Анна Мария Елена Ольга Татьяна Наталья Ирина Светлана Екатерина Дарья Алина "
    "Полина Виктория Юлия Анастасия Софья Вера Любовь Галина"
)
FIRST_RU_M = _words(
    "Александр Сергей Дмитрий Андрей Алексей Максим Иван Михаил Никита Артём Егор Павел "
    "Роман Владимир Кирилл Николай Денис Евгений Игорь Олег"
)
LAST_RU = _words(
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов "
    "Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев "
    "Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев"
)
FIRST_LAT = _words(
    "Anna Maria Elena Olga Kate Emma Olivia Sophia Mia Alex John Michael David James Daniel "
    "Max Ivan Sergey Dmitry Ksenia Laura Lucas Noah Liam Chloe Yusuf Aigerim Timur"
)
LAST_LAT = _words(
    "Smith Johnson Brown Miller Wilson Taylor Anderson Thomas Moore Martin Ivanov Petrova "
    "Garcia Müller Schmidt Rossi Novak Kowalski Dubois Nielsen"
)
NICKS = _words("vasya kotik sunny dimon lena_k ksu alex_pro zhenya boss mama_masha")

BOTS = (("shop_tg", "telegram"), ("shop_wa", "whatsapp"), ("support_mail", "email"))
BLOCKS = _words(
    "Приветствие Каталог Корзина Оплата Доставка Отзыв Возврат Акция Подписка Консультация "
    "Опрос Бонусы Запись Напоминание Повторная_покупка Menu Checkout Feedback Support FAQ"
)
LISTS = _words("VIP Gold Silver Spam Рассылка Оптовики Розница Партнёры Newsletter Beta Москва СПб")
LABELS = _words(
    "hot cold warm vip new returning горячий холодный перезвонить оплачено доставлено "
    "жалоба lead b2b test"
)
STAGES = ("Новый", "Переговоры", "Оплата", "Доставка", "Закрыт", "Отказ")
TAGS = ("instagram", "vk", "site", "ads", "friend", "offline")
SIZES = ("XS", "S", "M", "L", "XL", "XXL")
CITIES = ("Москва", "Санкт-Петербург", "Казань", "Новосибирск", "Екатеринбург", "Almaty", "Riga")
TEXTS_IN = (
    "Здравствуйте! Сколько стоит доставка?",
    "Есть размер XS?",
    "Hi, is this still available?",
    "Спасибо, получила 👍",
    "Когда будет оплата?",
    "Можно вернуть товар?",
)
TEXTS_OUT = (
    "Добрый день! Доставка 300 ₽.",
    "Да, есть в наличии.",
    "Hello! Yes, it is.",
    "Рады помочь!",
)

START = dt.datetime(2019, 1, 1)
SPAN_S = int((dt.datetime(2026, 11, 1) - START).total_seconds())
N_OPERATORS = 10


@dataclass(slots=True)
class Chunk:
    """The rows of one chunk of clients, ready for ``executemany`` / ``COPY``: timestamps
    as 'YYYY-MM-DD HH:MM:SS' text (how peewee stores them on SQLite; PostgreSQL parses it),
    booleans as 0/1 (SQLite's form; PostgreSQL's boolean input takes them too)."""

    clients: list[tuple[Any, ...]] = field(default_factory=list)
    variables: list[tuple[Any, ...]] = field(default_factory=list)
    history: list[tuple[Any, ...]] = field(default_factory=list)
    lists: list[tuple[Any, ...]] = field(default_factory=list)
    labels: list[tuple[Any, ...]] = field(default_factory=list)
    messages: list[tuple[Any, ...]] = field(default_factory=list)


CLIENT_COLS = (
    "id, bot_id, messenger_id, name, username, language, avatar_url, created_at, "
    "last_action_at, block_id, tag, responsible_id, deal_stage, blocked, unsubscribed, paused, "
    "pinned, unread"
)
VARIABLE_COLS = "client_id, name, value"
HISTORY_COLS = "client_id, block_id, entered_at"
LIST_COLS = "client_id, mailing_list_id"
LABEL_COLS = "client_id, label_id"
MESSAGE_COLS = (
    "client_id, bot_id, direction, author_kind, text, attachments, extra, created_at, "
    "updated_at, status, attempts"
)


def _name(rng: random.Random, i: int) -> str:
    roll = rng.random()
    if roll < 0.55:
        if rng.random() < 0.5:
            return f"{rng.choice(FIRST_RU_F)} {rng.choice(LAST_RU)}а"
        return f"{rng.choice(FIRST_RU_M)} {rng.choice(LAST_RU)}"
    if roll < 0.85:
        return f"{rng.choice(FIRST_LAT)} {rng.choice(LAST_LAT)}"
    if roll < 0.95:
        return rng.choice(FIRST_RU_F + FIRST_RU_M + FIRST_LAT)
    return f"{rng.choice(NICKS)}{1960 + i % 50}"


def _messenger_id(bot: int, i: int, name: str) -> str:
    # Bijections of i, so (bot, messenger_id) stays unique whatever N is.
    scrambled = (i * 7919) % 900_000_000
    if bot == 1:
        return str(100_000_000 + scrambled)
    if bot == 2:
        return f"79{scrambled:09d}"
    return f"user{i}.{scrambled % 9973}@example.com"


def generate(
    n: int, *, seed: int = 20260425, chunk: int = 50_000, messages: int = 2
) -> Iterator[Chunk]:
    """Chunks of rows for clients 1..``n``; ids of bots/blocks/lists/labels/operators are
    1-based positions in the tuples above (``seed_reference_rows`` creates them so)."""
    rng = random.Random(seed)
    for lo in range(1, n + 1, chunk):
        out = Chunk()
        for i in range(lo, min(lo + chunk, n + 1)):
            bot = rng.choice((1, 1, 1, 2, 2, 3))
            name = _name(rng, i)
            created = START + dt.timedelta(seconds=rng.randrange(SPAN_S))
            last = created + dt.timedelta(seconds=rng.randrange(86_400 * 200))
            out.clients.append(
                (
                    i,
                    bot,
                    _messenger_id(bot, i, name),
                    name,
                    None if rng.random() < 0.5 else f"u{i}",
                    "ru" if rng.random() < 0.7 else "en",
                    None,
                    created.isoformat(" "),
                    last.isoformat(" "),
                    rng.randint(1, len(BLOCKS)) if rng.random() < 0.7 else None,
                    rng.choice(TAGS) if rng.random() < 0.3 else None,
                    rng.randint(1, N_OPERATORS) if rng.random() < 0.4 else None,
                    rng.choice(STAGES) if rng.random() < 0.35 else None,
                    int(rng.random() < 0.03),
                    int(rng.random() < 0.02),
                    0,
                    int(rng.random() < 0.001),
                    int(rng.random() < 0.08),
                )
            )
            if rng.random() < 0.35:
                out.variables.append((i, "Размер", rng.choice(SIZES)))
            if rng.random() < 0.3:
                out.variables.append((i, "Цена", str(rng.randrange(100, 50_000, 50))))
            if rng.random() < 0.4:
                out.variables.append((i, "Город", rng.choice(CITIES)))
            if rng.random() < 0.2:
                out.variables.append((i, "Email", f"c{i}@mail.example"))
            if rng.random() < 0.2:
                out.variables.append((i, "Телефон", f"+7 9{i % 100:02d} {i % 1000:03d}-00-00"))
            if rng.random() < 0.25:
                out.variables.append((i, "Возраст", str(rng.randint(16, 80))))
            moment = created
            for _ in range(rng.choice((0, 1, 2, 2, 3, 4))):
                moment += dt.timedelta(minutes=rng.randint(1, 5000))
                out.history.append((i, rng.randint(1, len(BLOCKS)), moment.isoformat(" ")))
            for lst in {rng.randint(1, len(LISTS)) for _ in range(rng.choice((0, 0, 1, 1, 2)))}:
                out.lists.append((i, lst))
            for lbl in {rng.randint(1, len(LABELS)) for _ in range(rng.choice((0, 1, 1, 2, 3)))}:
                out.labels.append((i, lbl))
            moment = created
            for k in range(rng.randint(0, 2 * messages)):
                moment += dt.timedelta(minutes=rng.randint(1, 600))
                stamp = moment.isoformat(" ")
                inbound = k % 2 == 0
                text = rng.choice(TEXTS_IN if inbound else TEXTS_OUT)
                out.messages.append(
                    (
                        i,
                        bot,
                        "in" if inbound else "out",
                        "client" if inbound else "operator",
                        text,
                        "[]",
                        "{}",
                        stamp,
                        stamp,
                        None if inbound else "delivered",
                        0 if inbound else 1,
                    )
                )
        yield out


def seed_reference_rows(db: pw.Database) -> None:
    """Bots, operators, blocks, lists and labels with ids 1..len in tuple order."""
    now = dt.datetime(2026, 11, 1)
    db.execute_sql("DELETE FROM bot")
    for k, (name, kind) in enumerate(BOTS, 1):
        db.execute_sql(
            "INSERT INTO bot (id, name, kind, created_at) VALUES (%s, %s, %s, %s)"
            if is_postgres(db)
            else "INSERT INTO bot (id, name, kind, created_at) VALUES (?, ?, ?, ?)",
            (k, name, kind, now),
        )
    p = "%s" if is_postgres(db) else "?"
    for k in range(1, N_OPERATORS + 1):
        role = "admin" if k == 1 else "operator"
        db.execute_sql(
            f"INSERT INTO operator (id, telegram_id, role, name, email, on_shift, active, "
            f"created_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
            (k, 5_000_000 + k, role, f"Оператор {k}", f"op{k}@example.com", True, True, now),
        )
    for table, names in (("block", BLOCKS), ("mailing_list", LISTS), ("label", LABELS)):
        for k, name in enumerate(names, 1):
            db.execute_sql(f"INSERT INTO {table} (id, name) VALUES ({p}, {p})", (k, name))


def load(db: pw.Database, n: int, *, messages: int = 2, chunk: int = 50_000) -> dict[str, int]:
    """Generate and load ``n`` clients with their children; returns rows loaded per table."""
    counts = dict.fromkeys(("client", "variable", "block_history", "list_membership"), 0)
    counts.update(label_membership=0, message=0)
    if not is_postgres(db):
        # Loading only: no journal, no syncs, a 1 GiB cache; a failed load is thrown away.
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -1048576"):
            db.execute_sql(f"PRAGMA {pragma}")
    with db.atomic():
        seed_reference_rows(db)
        for part in generate(n, chunk=chunk, messages=messages):
            for table, cols, rows in (
                ("client", CLIENT_COLS, part.clients),
                ("variable", VARIABLE_COLS, part.variables),
                ("block_history", HISTORY_COLS, part.history),
                ("list_membership", LIST_COLS, part.lists),
                ("label_membership", LABEL_COLS, part.labels),
                ("message", MESSAGE_COLS, part.messages),
            ):
                _insert(db, table, cols, rows)
                counts[table] += len(rows)
    if not is_postgres(db):
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "cache_size = -262144"):
            db.execute_sql(f"PRAGMA {pragma}")
    if is_postgres(db):
        for table in ("bot", "operator", "block", "mailing_list", "label", "client"):
            db.execute_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        db.execute_sql("ANALYZE")
    return counts


def _insert(db: pw.Database, table: str, cols: str, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    if is_postgres(db):
        with db.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" * (cols.count(",") + 1))
    db.cursor().executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
