"""The shared send pacing, in process memory and in the real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from config import Settings
from tests.services import REDIS_URL, redis_namespace, require_redis
from workers.ratelimit import Limit, MemoryLimiter, RedisLimiter, limits_for


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[MemoryLimiter | RedisLimiter]:
    if request.param == "memory":
        yield MemoryLimiter()
        return
    with redis_namespace() as prefix:
        client = require_redis()
        yield RedisLimiter(client, prefix)
        client.close()


def test_slots_are_reserved_evenly_spaced(limiter: MemoryLimiter | RedisLimiter) -> None:
    limits = [Limit("bot:a", 10.0)]
    waits = [limiter.acquire(limits, max_wait_s=100).wait_s for _ in range(3)]
    assert [round(w) for w in waits] == [0, 10, 20]
    refused = limiter.acquire(limits, max_wait_s=5)
    assert not refused.granted and round(refused.wait_s) == 30
    # A refusal reserves nothing.
    assert round(limiter.acquire(limits, max_wait_s=100).wait_s) == 30


def test_a_send_waits_for_the_slowest_of_its_keys(limiter: MemoryLimiter | RedisLimiter) -> None:
    bot = Limit("bot:a", 0.001)
    assert limiter.acquire([bot, Limit("chat:a:1", 10.0)], 0).granted
    # Same chat: the chat key holds it back although the bot has room.
    assert not limiter.acquire([bot, Limit("chat:a:1", 10.0)], 5).granted
    # Another chat goes at once.
    assert limiter.acquire([bot, Limit("chat:a:2", 10.0)], 5).granted


def test_pause_holds_every_chat_of_the_bot(limiter: MemoryLimiter | RedisLimiter) -> None:
    limiter.pause("bot:a", 7)
    grant = limiter.acquire([Limit("bot:a", 0.01), Limit("chat:a:9", 1)], max_wait_s=1)
    assert not grant.granted and 6 < grant.wait_s <= 7
    assert 6 < limiter.next_free_s("bot:a") <= 7
    assert limiter.acquire([Limit("bot:b", 0.01)], max_wait_s=0).granted


def test_limits_follow_each_platforms_settings() -> None:
    settings = Settings.model_validate(
        {
            "bots": [
                {"name": "tg", "kind": "telegram", "token": "1:a", "messages_per_second": 25},
                {"name": "wa", "kind": "whatsapp", "enabled": False},
                {"name": "mail", "kind": "email", "enabled": False, "messages_per_second": 2},
            ]
        }
    )
    tg, wa, mail = settings.bots
    assert limits_for(tg, "42") == [
        Limit("bot:tg", 1 / 25, 0.0, 25, 1.0, adaptive=True),
        Limit("chat:tg:42", 1.0, 0.0, 1, 1.0),
    ]
    # A group: 20 per minute, spaced 3 s apart, at most 20 in any 60 s.
    assert limits_for(tg, "-100123")[1] == Limit("chat:tg:-100123", 3.0, 0.0, 20, 60.0)
    assert limits_for(wa, "+4915") == [
        Limit("bot:wa", 1 / 80, 0.0, 80, 1.0, adaptive=True),
        Limit("chat:wa:+4915", 6.0, 0.0, 1, 6.0),
    ]
    assert limits_for(mail, "a@b.c") == [Limit("bot:mail", 0.5, 0.0, 2, 1.0, adaptive=True)]
    halved = limits_for(tg, "1", headroom=0.5, catch_up_s=0.25)[0]
    assert (halved.interval_s, halved.window_n, halved.burst_s) == (pytest.approx(2 / 25), 12, 0.25)


def test_redis_limiter_is_shared_between_clients() -> None:
    with redis_namespace() as prefix:
        one = RedisLimiter(redis.Redis.from_url(REDIS_URL), prefix)
        two = RedisLimiter(redis.Redis.from_url(REDIS_URL), prefix)
        assert one.acquire([Limit("bot:x", 60)], 0).granted
        assert not two.acquire([Limit("bot:x", 60)], 0).granted


def test_a_stalled_sender_catches_up_with_a_short_burst_then_keeps_the_spacing(
    limiter: MemoryLimiter | RedisLimiter,
) -> None:
    bot = Limit("bot:c", 10.0, burst_s=20.0)
    # A stall: the TAT lies in the past. Up to burst_s / interval_s extra messages go at once.
    waits = [round(limiter.acquire([bot], max_wait_s=100).wait_s) for _ in range(5)]
    assert waits == [0, 0, 0, 10, 20]
    # Strict keys keep strict spacing even when another key of the send has credit.
    mixed = [bot, Limit("chat:c:1", 50.0)]
    assert round(limiter.acquire(mixed, max_wait_s=100).wait_s) == 30
    assert round(limiter.acquire(mixed, max_wait_s=100).wait_s) == 80


def test_a_pause_holds_a_key_that_has_burst_credit(limiter: MemoryLimiter | RedisLimiter) -> None:
    limiter.pause("bot:d", 5)
    grant = limiter.acquire([Limit("bot:d", 0.01, burst_s=1.0)], max_wait_s=1)
    assert not grant.granted and 4 < grant.wait_s <= 5
