"""``/ops``' history: the per-bot buckets (``workers.history``) in memory and in the real Redis,
bounded, fed by ``Stats.record`` (the counters ``/metrics`` reads), and drawn as accessible SVG."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import aiohttp
import peewee
import pytest
import redis
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from commands.delivery import ENGINE_KEY
from commands.ops_charts import busiest, chart, summary
from tests.services import REDIS_URL, redis_namespace
from tests.test_ops import TOKEN, _settings, serving
from workers.engine import Engine
from workers.history import (
    MINUTES,
    OUTCOMES,
    SCALES,
    TEN_SECONDS,
    History,
    MemoryHistory,
    RedisHistory,
)
from workers.stats import MemoryStats, RedisStats

NOW = 1_780_000_000.0  # a fixed "now" (2026-05-28 20:26:40 UTC)


@pytest.fixture(scope="module")
def redis_prefix() -> Iterator[str]:
    with redis_namespace() as prefix:
        yield prefix


events = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=2 * 24 * 3600, allow_nan=False),  # seconds before NOW
        st.sampled_from([*OUTCOMES, "deferred", "webhook"]),
        st.integers(min_value=1, max_value=500),
    ),
    max_size=40,
)


def _expected(scale_step: int, span: int, happened: list[tuple[float, str, int]]) -> dict:
    """What a chart must show, counted the slow way."""
    last = int(NOW) // scale_step * scale_step
    first = last - (span // scale_step - 1) * scale_step
    counts = {o: [0] * (span // scale_step) for o in OUTCOMES}
    for ago, outcome, n in happened:
        bucket = int(NOW - ago) // scale_step * scale_step
        if outcome in OUTCOMES and first <= bucket <= last:
            counts[outcome][(bucket - first) // scale_step] += n
    return counts


@examples(max_examples=25, deadline=None)
@given(events)
def test_memory_and_redis_hold_every_event_in_its_bucket(
    redis_prefix: str, happened: list[tuple[float, str, int]]
) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    stores: list[History] = [
        MemoryHistory(),
        RedisHistory(client, f"{redis_prefix}:{secrets.token_hex(4)}"),
    ]
    # In time order, as a running service adds them.
    for ago, outcome, n in sorted(happened, key=lambda e: -e[0]):
        for store in stores:
            store.add("b1", outcome, n, NOW - ago)
    for scale in SCALES:
        expected = _expected(scale.step_s, scale.span_s, happened)
        for store in stores:
            series = store.series(["b1", "quiet"], scale, NOW)
            assert series["b1"].counts == expected
            assert series["b1"].starts()[-1] == int(NOW) // scale.step_s * scale.step_s
            assert all(not any(v) for v in series["quiet"].counts.values())
    client.close()


def test_redis_history_is_bounded_and_expires(redis_prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"{redis_prefix}:bounded"
    history = RedisHistory(client, prefix)
    # Two days of one send a minute: only the pages of the spans are alive.
    for minute in range(2 * 24 * 60 + 1):  # up to NOW itself
        at = NOW - 2 * 24 * 3600 + minute * 60
        pipe = client.pipeline(transaction=False)
        history.add_to(pipe, "b1", "sent", 1, at)
        pipe.execute()
    keys = [k.decode() for k in client.scan_iter(match=f"{prefix}:hist:*", count=1000)]
    ttls = {k: client.ttl(k) for k in keys}
    assert all(0 < ttl <= MINUTES.span_s + 3600 for ttl in ttls.values())
    # One hash per hour touched (the made-up times span 48 h, possibly 49 clock hours); in
    # real time each expires 25 h after its last write, so at most 26 are ever alive.
    minutes = [k for k in keys if f":{MINUTES.step_s}:" in k]
    assert 48 <= len(minutes) <= 49
    series = history.series(["b1"], MINUTES, NOW)
    assert series["b1"].total("sent") == 24 * 60
    client.close()


def test_memory_history_prunes_past_the_span() -> None:
    history = MemoryHistory()
    for second in range(0, 2 * 24 * 3600, 30):
        history.add("b1", "inbound", 1, NOW - 2 * 24 * 3600 + second)
    held = {step: len(b) for (step, _), b in history._buckets.items()}
    assert held[MINUTES.step_s] <= MINUTES.slots + 1
    assert held[TEN_SECONDS.step_s] <= TEN_SECONDS.slots + 1


@pytest.mark.parametrize("mode", ["memory", "redis"])
def test_stats_record_feeds_the_history(mode: str) -> None:
    """The one counting hook: what ``/metrics`` counts is what the charts draw."""
    with redis_namespace() as prefix:
        client = redis.Redis.from_url(REDIS_URL)
        stats = MemoryStats() if mode == "memory" else RedisStats(client, prefix)
        stats.record("b1", "sent", "text", 0.05, n=3)
        stats.record("b1", "failed", "Blocked")
        stats.record("b1", "retried", "RetryAfter", 0.1)
        stats.record("b1", "inbound", "text", n=2)
        stats.record("b1", "deferred", "rate_limit")
        for scale in SCALES:
            series = stats.history.series(["b1"], scale, time.time())["b1"]
            totals = {o: series.total(o) for o in OUTCOMES}
            assert totals == {"sent": 3, "failed": 1, "retried": 1, "inbound": 2}
        client.close()


def test_a_chart_names_its_busiest_minute_in_the_project_zone() -> None:
    history = MemoryHistory()
    broadcast = NOW - 3600  # an hour ago: 40 sent and 2 failed in one minute
    history.add("shop<tg>", "sent", 40, broadcast)
    history.add("shop<tg>", "failed", 2, broadcast + 1)
    history.add("shop<tg>", "inbound", 5, NOW - 60)
    series = history.series(["shop<tg>"], MINUTES, NOW)["shop<tg>"]
    start, counts = busiest(series) or (0, {})
    assert start == int(broadcast) // 60 * 60 and counts["sent"] == 40
    moscow = ZoneInfo("Europe/Moscow")
    minute = dt.datetime.fromtimestamp(start, moscow).strftime("%H:%M")
    text = summary("shop<tg>", series, moscow)
    assert f"Busiest minute {minute} MSK: 40 sent, 2 failed." in text
    assert "40 sent, 2 failed, 0 retried, 5 inbound." in text
    html = chart("shop<tg>", series, moscow, "c1")
    assert "shop&lt;tg&gt;" in html and "<tg>" not in html
    assert 'role="img"' in html and 'aria-labelledby="c1-t c1-d"' in html
    assert re.search(r'<desc id="c1-d">[^<]*Busiest minute', html)
    # A quiet day is a short path: only the bends are points.
    sent_path = re.search(r'<path d="([^"]+)"[^>]*data-outcome="sent"', html)
    assert sent_path is not None and sent_path.group(1).count("L") <= 4
    assert 'data-outcome="retried"' not in html  # nothing to draw


def test_an_empty_span_says_so() -> None:
    series = MemoryHistory().series(["b1"], TEN_SECONDS, NOW)["b1"]
    assert busiest(series) is None
    assert summary("b1", series, dt.UTC).endswith("Nothing happened.")


async def test_ops_draws_each_bots_history(db: peewee.Database) -> None:
    async with (
        serving(_settings("memory://", "sbtest")) as (url, app),
        aiohttp.ClientSession() as h,
    ):
        engine = app[ENGINE_KEY]
        assert isinstance(engine, Engine)
        engine.stats.record("shop_tg", "sent", "text", 0.02, n=7)
        engine.stats.record("shop_tg", "inbound", "text")
        async with h.get(f"{url}/ops", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            page = await r.text()
    for step in (10, 60):
        figure = re.search(rf'<figure class="chart" id="chart-shop_tg-{step}">.*?</figure>', page)
        assert figure is not None
        assert "7 sent, 0 failed, 0 retried, 1 inbound." in figure.group(0)
        assert "7 sent, 1 inbound." in figure.group(0)  # the busiest bucket: this one
