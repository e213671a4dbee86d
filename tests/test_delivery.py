"""The delivery engine end to end: outbox -> Dramatiq (memory and Redis) -> adapter -> outbox."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import peewee
import pytest

from config import Settings
from store import outbox
from store.inbound import get_or_create_client
from store.models import Bot, Client, Message
from store.setup import sync_bots
from tests.platform_double import ScriptedAdapter, ScriptedPlatform
from tests.services import REDIS_URL, redis_namespace
from workers.engine import Engine


def _settings(broker_url: str, namespace: str = "sbtest") -> Settings:
    return Settings.model_validate(
        {
            "broker_url": broker_url,
            "bots": [{"name": "shop_tg", "kind": "telegram", "token": "1:abc"}],
            "delivery": {
                "namespace": namespace,
                "worker_threads": 4,
                "dispatch_interval_s": 0.05,
                "backoff_base_s": 0.05,
                "backoff_max_s": 0.2,
                "max_attempts": 3,
            },
        }
    )


@pytest.fixture(params=["memory", "redis"])
def broker_url(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    if request.param == "memory":
        yield "memory://", "sbtest"
    else:
        with redis_namespace() as prefix:
            yield REDIS_URL, prefix


def _run(engine: Engine, ids: list[int], timeout_s: float = 30) -> None:
    """Run the engine until every row in ``ids`` is finished (bounded)."""
    deadline = time.monotonic() + timeout_s
    engine.start_dispatcher()
    engine.start_workers()
    try:
        while time.monotonic() < deadline:
            pending = (
                Message.select()
                .where(Message.id.in_(ids) & Message.status.in_(["queued", "sending"]))
                .count()
            )
            if pending == 0:
                return
            time.sleep(0.05)
        raise AssertionError("delivery did not finish")
    finally:
        engine.stop()


def _clients(*ids: str) -> list[Client]:
    sync_bots([("shop_tg", "telegram")])
    bot = Bot.get(Bot.name == "shop_tg")
    return [get_or_create_client(bot, messenger_id)[0] for messenger_id in ids]


def test_every_error_class_is_handled_as_the_contract_says(
    db: peewee.Database, broker_url: tuple[str, str]
) -> None:
    platform = ScriptedPlatform()
    engine = Engine(
        _settings(*broker_url), adapter_factory=lambda b, s: ScriptedAdapter(b.name, platform)
    )
    names = ["ok", "flaky-2", "down", "blocked", "gone", "refused"]
    clients = _clients(*names)
    ids = [outbox.enqueue(c, f"to {c.messenger_id}").id for c in clients]
    _run(engine, ids)
    rows = {Client.get_by_id(m.client_id).messenger_id: m for m in Message.select()}
    assert (rows["ok"].status, rows["ok"].attempts) == ("sent", 1)
    assert (rows["flaky-2"].status, rows["flaky-2"].attempts) == ("sent", 3)
    assert rows["ok"].platform_message_id == f"p{rows['ok'].id}"
    # Transient until max_attempts (3), then failed with the last error kept.
    assert (rows["down"].status, rows["down"].attempts, rows["down"].error_code) == (
        "failed",
        3,
        "timeout",
    )
    assert "gave up after 3 attempts" in (rows["down"].error_text or "")
    # No retry for these; the error is stored for operators.
    for name, code in (("blocked", "403"), ("gone", "400"), ("refused", "400")):
        assert (rows[name].status, rows[name].attempts, rows[name].error_code) == (
            "failed",
            1,
            code,
        )
    assert platform.tries["blocked"] == 1 and platform.tries["refused"] == 1
    assert rows["refused"].error_text == "Bad Request: message text is empty"
    # Blocked unsubscribes the client; the others stay subscribed.
    flags = {c.messenger_id: c.unsubscribed for c in Client.select()}
    assert flags == {n: n == "blocked" for n in names}
    # Adapters were reused per worker thread and closed when the workers stopped.
    assert 1 <= platform.closed <= 4
    snap = engine.stats.snapshot()
    assert snap.counters[("sent", "shop_tg", "text")] == 2
    assert snap.counters[("failed", "shop_tg", "Blocked")] == 1
    assert snap.counters[("retried", "shop_tg", "TransientError")] == 4


def test_retry_after_waits_exactly_n_seconds_and_pauses_the_whole_bot(
    db: peewee.Database, broker_url: tuple[str, str]
) -> None:
    platform = ScriptedPlatform()
    engine = Engine(
        _settings(*broker_url), adapter_factory=lambda b, s: ScriptedAdapter(b.name, platform)
    )
    limited, other = _clients("retry-2", "other")
    first = outbox.enqueue(limited, "a")
    engine.start_dispatcher()
    engine.start_workers()
    try:
        deadline = time.monotonic() + 10
        while not platform.calls and time.monotonic() < deadline:
            time.sleep(0.02)
        # Enqueued during the pause: another chat of the same bot must wait too.
        second = outbox.enqueue(other, "b")
    finally:
        engine.stop()
    _run(
        Engine(
            _settings(*broker_url), adapter_factory=lambda b, s: ScriptedAdapter(b.name, platform)
        )
        if broker_url[0] != "memory://"
        else engine,
        [first.id, second.id],
    )
    row = Message.get_by_id(first.id)
    assert (row.status, row.attempts) == ("sent", 2)
    assert platform.delivered[first.id] == 1 and platform.delivered[second.id] == 1
    calls = [t for to, t, _ in platform.calls if to == "retry-2"]
    assert calls[1] - calls[0] >= dt.timedelta(seconds=2)
    other_sent = next(t for to, t, _ in platform.calls if to == "other")
    # In Redis mode the pause is shared: a new process (here: a new engine) honours it too.
    assert other_sent - calls[0] >= dt.timedelta(seconds=2)


def test_a_bot_wide_refusal_cuts_the_learned_rate_and_a_per_chat_one_does_not(
    db: peewee.Database, broker_url: tuple[str, str]
) -> None:
    platform = ScriptedPlatform()
    engine = Engine(
        _settings(*broker_url), adapter_factory=lambda b, s: ScriptedAdapter(b.name, platform)
    )
    pair, ok = _clients("pair-1", "ok")
    ids = [outbox.enqueue(pair, "one").id, outbox.enqueue(ok, "two").id]
    _run(engine, ids)
    assert Message.get_by_id(ids[0]).attempts == 2  # retried after the chat's pause
    learned = engine.limiter.bot_rate("bot:shop_tg")
    assert (learned.factor, learned.refusals) == (1.0, 0)  # the bot was not to blame
    (retry,) = _clients("retry-1")
    ids = [outbox.enqueue(retry, "three").id]
    _run(engine, ids)
    learned = engine.limiter.bot_rate("bot:shop_tg")
    assert learned.factor == pytest.approx(0.85) and learned.refusals == 1
    assert learned.recent_retry_after_s == (1.0,)


def test_an_adapter_that_cannot_be_built_fails_the_message_with_its_error(
    db: peewee.Database,
) -> None:
    def broken(bot: object, settings: Settings) -> ScriptedAdapter:
        raise ValueError("bad token for shop_tg")

    engine = Engine(_settings("memory://"), adapter_factory=broken)
    (client,) = _clients("ok")
    message = outbox.enqueue(client, "hi")
    _run(engine, [message.id])
    row = Message.get_by_id(message.id)
    # Retried like a transient error, then failed with the reason kept, never dead-lettered.
    assert (row.status, row.attempts, row.error_code) == ("failed", 3, "unexpected")
    assert "ValueError: bad token for shop_tg" in (row.error_text or "")
    assert not engine.broker.dead_letters  # type: ignore[attr-defined]


def test_the_sweep_must_wait_longer_than_a_send_waits_for_its_slot() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"stale_after_s .* must exceed max_wait_s"):
        Settings.model_validate({"delivery": {"stale_after_s": 2, "max_wait_s": 2}})
    assert Settings.model_validate({"delivery": {"catch_up_s": 0}}).delivery.catch_up_s == 0
