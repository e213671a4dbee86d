"""``workers.pulse`` in memory and in the real Redis: the same answers from both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.services import REDIS_URL, redis_namespace
from workers.pulse import MemoryPulse, Pulse, RedisPulse


@pytest.fixture(params=["memory", "redis"])
def pulse(request: pytest.FixtureRequest) -> Iterator[Pulse]:
    if request.param == "memory":
        yield MemoryPulse()
        return
    with redis_namespace() as ns:
        client = redis.Redis.from_url(REDIS_URL)
        yield RedisPulse(client, ns)
        client.close()


def test_a_bot_fails_until_a_send_goes_through(pulse: Pulse) -> None:
    assert pulse.bot("b").last_sent_at is None and not pulse.bot("b").failing
    pulse.error("b", "429", "Too Many Requests: retry after 3")
    pulse.error("b", "429", "Too Many Requests: retry after 5")
    pulse.error("b", "131056", "pair rate limit")
    seen = pulse.bot("b")
    assert seen.failing and seen.recent_codes == {"429": 2, "131056": 1}
    assert (seen.last_error_code, seen.last_error_text) == ("131056", "pair rate limit")
    pulse.sent("b")
    seen = pulse.bot("b")
    assert not seen.failing and seen.last_sent_at is not None
    assert seen.recent_codes == {"429": 2, "131056": 1}  # the 15 minutes still count them
    assert pulse.bot("other").recent_codes == {}


def test_the_dispatcher_fails_until_a_tick_goes_through(pulse: Pulse) -> None:
    assert pulse.dispatcher().last_tick_at is None
    pulse.tick(error="OperationalError: database is locked")
    d = pulse.dispatcher()
    assert d.failing and d.last_error == "OperationalError: database is locked"
    pulse.tick()
    d = pulse.dispatcher()
    assert not d.failing and d.last_tick_at is not None
    assert d.last_error == "OperationalError: database is locked"  # kept, with its time


def test_a_redis_that_is_gone_costs_the_pulse_never_the_caller() -> None:
    gone = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    pulse = RedisPulse(gone, "nowhere")
    pulse.sent("b")
    pulse.error("b", "network", "cannot connect")
    pulse.tick(error="boom")
    with pytest.raises(redis.RedisError):
        pulse.bot("b")  # reading says so: /ops reports the broker as down
