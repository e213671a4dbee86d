"""The window guard, pauses without bursts and the learned rate (AIMD), in memory and on Redis."""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.services import REDIS_URL, redis_namespace, require_redis
from workers.ratelimit import Aimd, Limit, MemoryLimiter, RedisLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[MemoryLimiter | RedisLimiter]:
    aimd = Aimd(raise_every_s=0.3)
    if request.param == "memory":
        yield MemoryLimiter(aimd, margin_s=0.0)
        return
    with redis_namespace() as prefix:
        client = require_redis()
        yield RedisLimiter(client, prefix, aimd, margin_s=0.0)
        client.close()


def most_in_any_window(times: list[float], window_s: float) -> int:
    """The most of ``times`` inside any half-open window of ``window_s`` seconds."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, t in enumerate(ordered):
        while t - ordered[first] >= window_s:
            first += 1
        most = max(most, last - first + 1)
    return most


def most_overlapping(spans: list[tuple[float, float]]) -> int:
    """The most half-open spans ``[start, end)`` that cover one instant."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = now = 0
    for _, step in events:  # an end sorts before a start at the same instant
        now += step
        most = max(most, now)
    return most


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 5),
    window_s=st.sampled_from([0.5, 1.0, 6.0]),
    sends=st.lists(
        st.tuples(
            st.floats(0, 0.4),  # gap before the sender tries (s)
            st.floats(0, 3.0),  # round trip of the call (s)
            st.floats(0, 1),  # where in the round trip the platform counts it
        ),
        min_size=1,
        max_size=60,
    ),
)
def test_the_platform_never_counts_more_than_n_in_a_window_whatever_the_jitter(
    n: int, window_s: float, sends: list[tuple[float, float, float]]
) -> None:
    clock = FakeClock()
    # A microsecond of margin absorbs float rounding of "answer + window" (exact in reals).
    limiter = MemoryLimiter(margin_s=1e-6, clock=clock)
    limit = Limit("bot:x", 0.001, window_n=n, window_s=window_s)
    answers: list[tuple[float, str]] = []  # (answer time, entry), a heap

    def answer_until(t: float) -> None:
        while answers and answers[0][0] <= t:
            clock.now, entry = heapq.heappop(answers)
            limiter.done([limit], entry)

    counted: list[float] = []
    t = clock.now
    for gap, latency, where in sends:
        t += gap
        while True:
            answer_until(t)
            clock.now = t
            admission = limiter.admit([limit])
            if admission.entry is not None:
                break
            assert admission.wait_s > 0
            t += admission.wait_s
        heapq.heappush(answers, (t + latency, admission.entry))
        counted.append(t + latency * where)
    assert most_in_any_window(counted, window_s) <= n


@settings(max_examples=4, deadline=None)
@given(latencies=st.lists(st.floats(0, 0.06), min_size=8, max_size=8))
def test_on_redis_threads_never_overlap_more_than_n_windows(latencies: list[float]) -> None:
    """Four threads send through one Redis window (3 per 0.2 s) with jittery round trips;
    the spans [departure, answer + window) never overlap more than 3 deep."""
    window = Limit("bot:r", 0.001, window_n=3, window_s=0.2)
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()
    with redis_namespace() as prefix:
        limiter = RedisLimiter(redis.Redis.from_url(REDIS_URL), prefix, margin_s=0.001)

        def sender(offset: int) -> None:
            for i in range(6):
                while (admission := limiter.admit([window])).entry is None:
                    time.sleep(admission.wait_s)
                departed = time.time()
                time.sleep(latencies[(offset + i) % len(latencies)])
                answered = time.time()
                limiter.done([window], admission.entry)
                with lock:
                    spans.append((departed, answered + window.window_s))

        threads = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert len(spans) == 24
    assert most_overlapping(spans) <= 3


def test_an_unanswered_send_holds_its_window_until_the_in_flight_timeout() -> None:
    clock = FakeClock()
    limiter = MemoryLimiter(margin_s=0.0, inflight_timeout_s=30.0, clock=clock)
    chat = Limit("chat:x:1", 1.0, window_n=1, window_s=1.0)
    assert limiter.admit([chat]).entry is not None  # its worker dies: no done()
    clock.now += 5
    refused = limiter.admit([chat])
    assert refused.entry is None and refused.wait_s == 1.0  # an answer may still come
    clock.now += 26.5
    assert limiter.admit([chat]).entry is not None


def test_window_guard_waits_for_the_answer_of_the_send_before(
    limiter: MemoryLimiter | RedisLimiter,
) -> None:
    chat = Limit("chat:a:1", 0.2, window_n=1, window_s=0.3)
    bot = Limit("bot:a", 0.001, window_n=10, window_s=1.0)
    first = limiter.admit([bot, chat])
    assert first.entry is not None
    refused = limiter.admit([bot, chat])
    assert refused.entry is None and 0.25 < refused.wait_s <= 0.3 + 1e-6  # float rounding
    # Another chat of the same bot goes at once: the bot window has room.
    assert limiter.admit([bot, Limit("chat:a:2", 0.2, window_n=1, window_s=0.3)]).entry
    limiter.done([bot, chat], first.entry)
    time.sleep(0.32)
    assert limiter.admit([bot, chat]).entry is not None


def test_a_pause_holds_the_window_guard_too(limiter: MemoryLimiter | RedisLimiter) -> None:
    """A send that got its slot before a 429 paused the bot still waits for the pause."""
    bot = Limit("bot:p", 0.001, window_n=30, window_s=1.0)
    limiter.pause(bot.key, 5)
    refused = limiter.admit([bot])
    assert refused.entry is None and 4.5 < refused.wait_s <= 5


def test_after_a_pause_sends_resume_at_the_plain_rate_without_a_burst(
    limiter: MemoryLimiter | RedisLimiter,
) -> None:
    bot = Limit("bot:b", 10.0, burst_s=50.0)
    assert round(limiter.acquire([bot], 1000).wait_s) == 0
    limiter.pause(bot.key, 100, burst_s=bot.burst_s)
    waits = [round(limiter.acquire([bot], 1000).wait_s) for _ in range(4)]
    # Without the reset the 50 s of catch-up credit would let five go at 100 at once.
    assert waits == [100, 110, 120, 130]


def test_a_429_cuts_the_rate_once_per_pause_and_a_clean_stretch_raises_it(
    limiter: MemoryLimiter | RedisLimiter,
) -> None:
    bot = Limit("bot:c", 0.1, window_n=30, window_s=1.0, adaptive=True)
    first = limiter.throttle(bot, 0.2)
    assert first.cut and first.factor == pytest.approx(0.85)
    # Answers to sends already in flight when the bot paused: counted, not cut again.
    again = limiter.throttle(bot, 0.2)
    assert not again.cut and again.factor == pytest.approx(0.85)
    assert limiter.bot_rate(bot.key).refusals == 2
    time.sleep(0.21)
    second = limiter.throttle(bot, 0.4)
    assert second.cut and second.factor == pytest.approx(0.7225)
    assert second.recent_retry_after_s == (0.2, 0.4) and second.escalating
    # The learned rate paces the timeline: slots 0.1 / 0.7225 s apart after the pause.
    waits = [limiter.acquire([bot], 10).wait_s for _ in range(3)]
    assert waits[2] - waits[1] == pytest.approx(0.1 / 0.7225, abs=0.01)
    time.sleep(0.4 + 0.31)  # the pause, then one clean stretch of 0.3 s
    rate = limiter.bot_rate(bot.key)
    assert rate.factor == pytest.approx(0.7725)
    assert rate.paused_s == 0 and rate.last_429_ago_s is not None and rate.last_429_ago_s > 0.7
    assert rate.recent_retry_after_s == (0.2, 0.4)


def test_the_learned_rate_never_drops_below_the_floor_and_narrows_the_window() -> None:
    clock = FakeClock()
    limiter = MemoryLimiter(Aimd(cut=0.5, floor=0.1), clock=clock)
    bot = Limit("bot:f", 1 / 30, window_n=30, window_s=1.0, adaptive=True)
    for _ in range(6):
        penalty = limiter.throttle(bot, 1)
        clock.now += 1.5
    assert penalty.factor == pytest.approx(0.1) and not penalty.escalating
    assert len(penalty.recent_retry_after_s) == 5
    admitted = []
    for _ in range(4):  # 0.2 s apart: more than the departure gap (half of 1 / 3 s)
        admitted.append(limiter.admit([bot]).entry)
        clock.now += 0.2
    assert sum(e is not None for e in admitted) == 3  # 10 % of 30 per second


def test_the_learned_rate_is_shared_by_every_process_and_survives_a_restart() -> None:
    with redis_namespace() as prefix:
        bot = Limit("bot:s", 0.01, window_n=2, window_s=1.0, adaptive=True)
        one = RedisLimiter(redis.Redis.from_url(REDIS_URL), prefix)
        one.throttle(bot, 0.05)
        two = RedisLimiter(redis.Redis.from_url(REDIS_URL), prefix)  # another process
        learned = two.bot_rate(bot.key)
        assert learned.factor == pytest.approx(0.85) and learned.refusals == 1
        assert learned.recent_retry_after_s == (0.05,)
        time.sleep(0.06)
        assert one.admit([bot]).entry is not None
        time.sleep(0.02)  # past the departure gap (half of 0.01 / 0.85 s)
        # 2 * 0.85 -> one per window at the learned rate, whoever asks.
        refused = two.admit([bot])
        assert refused.entry is None and refused.wait_s > 0.5


def test_the_pacing_knobs_are_validated_and_reach_the_aimd_rule() -> None:
    from pydantic import ValidationError

    from config import Settings
    from workers.ratelimit import aimd_of

    for bad in (
        {"rate_cut_factor": 1},
        {"rate_floor_fraction": 0},
        {"rate_raise_fraction": 1.5},
        {"rate_raise_every_s": 0},
        {"window_margin_s": -0.1},
        {"inflight_timeout_s": 0},
    ):
        with pytest.raises(ValidationError, match=next(iter(bad))):
            Settings.model_validate({"delivery": bad})
    delivery = Settings.model_validate(
        {"delivery": {"rate_cut_factor": 0.5, "rate_raise_every_s": 30}}
    ).delivery
    assert aimd_of(delivery) == Aimd(cut=0.5, floor=0.1, raise_step=0.05, raise_every_s=30)


def test_a_bots_sends_depart_at_least_half_an_interval_apart(
    limiter: MemoryLimiter | RedisLimiter,
) -> None:
    """Even with room in the window (a catch-up burst, a window whose entries all ended at
    once) a bot's sends go out at twice its learned rate at most."""
    bot = Limit("bot:g", 0.4, burst_s=2.0, window_n=30, window_s=1.0, adaptive=True)
    chat = Limit("chat:g:1", 0.001, window_n=5, window_s=1.0)
    assert limiter.admit([bot, chat]).entry is not None
    refused = limiter.admit([bot, chat])
    assert refused.entry is None and 0.15 < refused.wait_s <= 0.2
    assert limiter.admit([chat]).entry is not None  # a key of its own goes at once
    time.sleep(0.21)
    assert limiter.admit([bot, chat]).entry is not None


@given(
    cut=st.floats(0.05, 0.95),
    floor=st.floats(0.01, 1.0),
    step=st.floats(0.01, 1.0),
    events=st.lists(st.tuples(st.floats(0, 100), st.booleans()), max_size=30),
)
def test_the_learned_factor_stays_between_the_floor_and_one_and_only_a_429_lowers_it(
    cut: float, floor: float, step: float, events: list[tuple[float, bool]]
) -> None:
    aimd = Aimd(cut=cut, floor=floor, raise_step=step, raise_every_s=10.0)
    stored, cut_at, now = 1.0, None, 0.0
    before = aimd.factor(stored, cut_at, now)
    for gap, refused in events:
        now += gap
        factor = aimd.factor(stored, cut_at, now)
        assert floor - 1e-9 <= factor <= 1.0
        assert factor >= before - 1e-9  # time alone never lowers it
        if refused:
            stored, cut_at = aimd.after_cut(factor), now
            assert stored <= max(factor * cut, floor) + 1e-9
            assert stored < factor or factor <= floor
        before = aimd.factor(stored, cut_at, now)
