"""``GET /metrics``: Prometheus text, behind the ops token (``Authorization: Bearer``).

Why a collector that reads shared state at scrape time, not ``prometheus_client``'s own
counters: the sends happen in ``switchboard worker`` processes — any number, restarted at
will, possibly on other machines — while ``/metrics`` is served by ``switchboard serve``.
Every sender already adds its outcome to ``workers.stats`` (Redis hashes in ``redis://`` mode,
process memory in ``memory://`` mode, where the workers are threads of ``serve`` itself), so
one scrape of any ``serve`` process sees the sum over all workers. Prometheus' multiprocess
directory would only cover processes of one machine sharing a directory and needs its files
cleaned up after every SIGKILLed worker. The price: the counters restart from 0 when Redis
loses its data (this machine's Redis keeps nothing on disk), which Prometheus' ``rate()``
treats as an ordinary counter reset. Gauges (queue depths, outbox rows by status) are read
from the broker and the store on each scrape.
"""

from __future__ import annotations

from collections.abc import Iterator

import redis
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from bots.unusable import rejected_counts
from bots.webhook import StoreUnavailable, store_call
from config import Settings
from store import outbox
from workers.engine import Engine
from workers.queues import depths
from workers.ratelimit import bot_key, configured_rate
from workers.stats import LATENCY_BUCKETS_S

OUTCOMES = {
    "sent": "Messages the platform accepted",
    "failed": "Messages given up on (permanent error, blocked, attempts exhausted)",
    "retried": "Failed attempts that will be retried (RetryAfter, transient errors)",
    "deferred": "Sends put back because the rate limiter had no slot within max_wait_s",
}


class DeliveryCollector(Collector):
    """Reads ``engine.stats``, the limiter, the broker and the outbox on every ``collect``."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        snap = self.engine.stats.snapshot()
        families = {
            outcome: CounterMetricFamily(f"switchboard_{outcome}", doc, labels=["bot", "reason"])
            for outcome, doc in OUTCOMES.items()
        }
        for (outcome, bot, reason), n in sorted(snap.counters.items()):
            if outcome in families:
                families[outcome].add_metric([bot, reason], n)
        yield from families.values()
        cumulative, buckets = 0, []
        for bound, n in zip(LATENCY_BUCKETS_S, snap.latency_buckets, strict=False):
            cumulative += n
            buckets.append((f"{bound:g}", float(cumulative)))
        buckets.append(("+Inf", float(sum(snap.latency_buckets))))
        yield HistogramMetricFamily(
            "switchboard_send_latency_seconds",
            "Time of one platform call (seconds)",
            buckets=buckets,
            sum_value=snap.latency_sum_s,
        )
        q = depths(self.engine)
        queue = GaugeMetricFamily(
            "switchboard_queue_depth", "Messages in the broker", labels=["queue"]
        )
        for name, value in (
            ("ready", q.ready),
            ("in_flight", q.in_flight),
            ("delayed", q.delayed),
            ("dead", q.dead),
        ):
            queue.add_metric([name], value)
        yield queue
        rows = GaugeMetricFamily(
            "switchboard_outbox_messages", "Outbound messages by status", labels=["status"]
        )
        for status, n in sorted(outbox.counts_by_status().items()):
            rows.add_metric([status], n)
        yield rows
        rate = GaugeMetricFamily(
            "switchboard_send_rate", "Messages sent per second over the last 10 s", labels=["bot"]
        )
        wait = GaugeMetricFamily(
            "switchboard_limiter_next_slot_seconds",
            "Seconds until the rate limiter lets the bot's next message go",
            labels=["bot"],
        )
        limit = GaugeMetricFamily(
            "switchboard_bot_rate_limit", "Configured send rate (messages/s)", labels=["bot"]
        )
        learned = GaugeMetricFamily(
            "switchboard_bot_learned_rate",
            "Send rate the limiter learned from the platform's 429s (messages/s)",
            labels=["bot"],
        )
        refusals = CounterMetricFamily(
            "switchboard_bot_429",
            "Bot-wide rate-limit refusals (429 / 130429) the limiter counted",
            labels=["bot"],
        )
        retry_after = GaugeMetricFamily(
            "switchboard_bot_last_retry_after_seconds",
            "retry_after of the platform's latest rate cut (seconds)",
            labels=["bot"],
        )
        for config in self.settings.bots:
            name, configured = config.name, configured_rate(config, self.settings.delivery)
            state = self.engine.limiter.bot_rate(bot_key(name))
            rate.add_metric([name], self.engine.stats.rate(name))
            wait.add_metric([name], self.engine.limiter.next_free_s(bot_key(name)))
            limit.add_metric([name], configured)
            learned.add_metric([name], state.factor * configured)
            refusals.add_metric([name], state.refusals)
            if state.recent_retry_after_s:
                retry_after.add_metric([name], state.recent_retry_after_s[-1])
        yield from (rate, wait, limit, learned, refusals, retry_after)
        rejected = CounterMetricFamily(
            "switchboard_ingest_rejected",
            "Inbound items left out as unusable, by this serve process (bots.unusable)",
            labels=["bot", "reason"],
        )
        for (bot, reason), n in sorted(rejected_counts().items()):
            rejected.add_metric([bot, reason], n)
        yield rejected


REGISTRY_KEY = web.AppKey("metrics_registry", CollectorRegistry)


def build_registry(settings: Settings, engine: Engine) -> CollectorRegistry:
    """A registry of its own (not the global one) holding the delivery collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeliveryCollector(settings, engine))
    return registry


async def metrics(request: web.Request) -> web.Response:
    from commands.ops import AUTH_KEY

    request.app[AUTH_KEY].guard(request)
    try:
        body = await store_call(generate_latest, request.app[REGISTRY_KEY])
    except StoreUnavailable as exc:
        return web.Response(status=503, text=f"metrics: the store is unreachable ({exc})")
    except redis.RedisError as exc:  # Prometheus marks the scrape failed; say why in one line
        return web.Response(status=503, text=f"metrics: Redis: {type(exc).__name__}: {exc}")
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
