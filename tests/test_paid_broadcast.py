"""Paid broadcasts: a Telegram bot with ``paid_broadcast`` sends its bulk rows with
``allow_paid_broadcast``, which the Bot API emulator counts at 1,000/s instead of 30/s."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bots.contract import OutboundMessage
from bots.errors import RetryAfter
from bots.telegram.adapter import TelegramAdapter
from commands.jobs import steps
from config import Settings, TelegramBotSettings
from emulators.flood import max_in_window
from emulators.telegram import TelegramEmulator
from store import jobs, outbox
from store.models import PRIORITY_BULK, PRIORITY_INTERACTIVE, Bot, Client
from tests.broadcast_rig import TG_TOKEN, job_rows, seed_clients, until
from tests.conftest import migrated_store
from tests.services import REDIS_URL, redis_namespace, temporary_postgres_database
from workers.engine import Engine
from workers.lanes import is_paid
from workers.ratelimit import limits_for


def _bot(api: TelegramEmulator, *, paid: bool) -> TelegramBotSettings:
    return TelegramBotSettings(
        name="tg",
        kind="telegram",
        token=SecretStr(TG_TOKEN),
        api_base=api.base_url,
        paid_broadcast=paid,
    )


async def _send_all(
    adapter: TelegramAdapter, chats: range, *, paid: bool
) -> list[BaseException | None]:
    async def one(chat: int) -> BaseException | None:
        message = OutboundMessage("tg", str(chat), "Sale", paid_broadcast=paid)
        try:
            await adapter.send(message)
        except RetryAfter as exc:
            return exc
        return None

    return list(await asyncio.gather(*(one(c) for c in chats)))


def _paid_flags(api: TelegramEmulator) -> list[Any]:
    return [c.params.get("allow_paid_broadcast") for c in api.calls_of("sendMessage")]


async def test_the_emulator_lets_paid_messages_past_30_per_second() -> None:
    """With the emulator's clock frozen every request arrives in the same instant: 60 paid
    messages pass, of 60 plain ones the bot's 30 per second do and the rest get 429."""
    async with TelegramEmulator(
        accept_unknown_chats=True, record_calls=True, clock=lambda: 100.0
    ) as api:
        api.bot(TG_TOKEN)
        adapter = TelegramAdapter(_bot(api, paid=True))
        try:
            paid = await _send_all(adapter, range(1000, 1060), paid=True)
            assert paid == [None] * 60
            assert _paid_flags(api) == ["true"] * 60  # aiogram posts form fields
            plain = await _send_all(adapter, range(2000, 2060), paid=False)
        finally:
            await adapter.close()
    refused = [e for e in plain if e is not None]
    assert len(refused) == 30 and all(isinstance(e, RetryAfter) for e in refused)
    assert _paid_flags(api)[60:] == [None] * 60  # a plain message carries no flag


async def test_only_a_bot_that_opted_in_pays() -> None:
    async with TelegramEmulator(accept_unknown_chats=True, record_calls=True) as api:
        api.bot(TG_TOKEN)
        adapter = TelegramAdapter(_bot(api, paid=False))
        try:
            await adapter.send(OutboundMessage("tg", "1000", "Sale", paid_broadcast=True))
        finally:
            await adapter.close()
        assert _paid_flags(api) == [None]


def test_only_bulk_rows_of_a_paid_bot_are_paid_and_paced_apart() -> None:
    paid = TelegramBotSettings(
        name="tg", kind="telegram", token=SecretStr(TG_TOKEN), paid_broadcast=True
    )
    free = paid.model_copy(update={"paid_broadcast": False})
    lanes = (is_paid(paid, PRIORITY_BULK), is_paid(paid, PRIORITY_INTERACTIVE))
    assert lanes == (True, False) and not is_paid(free, PRIORITY_BULK)
    bulk = limits_for(paid, "1000", paid=True)
    assert [(lim.key, lim.interval_s) for lim in bulk] == [
        ("bot:tg:paid", 0.001),
        ("chat:tg:1000", 1.0),
    ]
    free_key = limits_for(paid, "1000")[0]  # an interactive send of the same bot
    assert (free_key.key, free_key.interval_s) == ("bot:tg", 1 / 30)


@pytest.fixture(params=["memory+sqlite", "redis+postgres"])
def mode(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(broker URL, namespace) with a migrated store bound for the test."""
    if request.param == "memory+sqlite":
        with migrated_store(f"sqlite:///{tmp_path / 'store.db'}"):
            yield "memory://", "paid"
        return
    with temporary_postgres_database() as url, migrated_store(url), redis_namespace() as ns:
        yield REDIS_URL, ns


async def test_a_paid_broadcast_runs_past_30_per_second_without_a_429(
    mode: tuple[str, str],
) -> None:
    """A real engine (memory mode on SQLite, Redis mode on PostgreSQL) sends a broadcast of a
    paid bot and then an operator's reply through the Bot API emulator counting strictly
    (``window``): every broadcast message carries ``allow_paid_broadcast``, none is refused,
    and more than 30 arrive within one second; the reply goes out free."""
    clients = 150
    async with TelegramEmulator(
        accept_unknown_chats=True, record_calls=True, flood="window"
    ) as api:
        api.bot(TG_TOKEN)
        bot = _bot(api, paid=True).model_dump(mode="json")
        bot["token"] = TG_TOKEN
        broker_url, namespace = mode
        delivery = {"namespace": namespace, "worker_threads": 8, "dispatch_interval_s": 0.1}
        settings = Settings.model_validate(
            {"broker_url": broker_url, "bots": [bot], "delivery": delivery}
        )
        seed_clients("tg", "telegram", [str(5000 + i) for i in range(clients + 1)])
        tg = Bot.get(Bot.name == "tg")
        audience = Client.select().where((Client.bot == tg) & (Client.messenger_id != "5000"))
        job = jobs.create_broadcast(audience, "Sale today", steps=steps(settings))
        engine = Engine(settings)
        engine.start_dispatcher()
        engine.start_workers()
        try:
            await until(lambda: jobs.progress(job.id).remaining == 0, "the broadcast", 60)
            operator_chat = Client.get((Client.bot == tg) & (Client.messenger_id == "5000"))
            outbox.enqueue(operator_chat, "Your order has shipped", author_kind="operator")
            await until(lambda: len(api.sent(TG_TOKEN)) > clients, "the reply", 30)
        finally:
            await asyncio.to_thread(engine.stop)
        assert job_rows(job.id) == {"sent": clients}
        calls = api.calls_of("sendMessage")
        assert [c.status for c in calls] == [200] * (clients + 1)  # not one 429
        flags = {c.params.get("chat_id"): c.params.get("allow_paid_broadcast") for c in calls}
        assert flags.pop("5000") is None  # the operator's reply: free
        assert set(flags.values()) == {"true"} and len(flags) == clients
        busiest = max_in_window(api.accepted_sends(TG_TOKEN))
        print(f"paid broadcast: at most {busiest} sends in one second")
        assert busiest > 30, busiest


@pytest.mark.parametrize("rate", [0, 1001])
def test_paid_rate_is_bounded(rate: float) -> None:
    with pytest.raises(ValueError, match="paid_messages_per_second"):
        TelegramBotSettings(
            name="tg", kind="telegram", token=SecretStr(TG_TOKEN), paid_messages_per_second=rate
        )
