"""``GET /metrics``: Prometheus text, behind the ops token (``Authorization: Bearer``).

Why a collector that reads shared state at scrape time, not ``prometheus_client``'s own
counters: the sends happen in ``switchboard worker`` processes — any number, restarted at
will, possibly on other machines — while ``/metrics`` is served by ``switchboard serve``.
Every sender already adds its outcome to ``workers.stats`` (Redis hashes in ``redis://`` mode,
process memory in ``memory://`` mode, where the workers are threads of ``serve`` itself), so
one scrape of any ``serve`` process sees the sum over all workers; ``serve`` adds the inbound
messages and webhook requests there too (``commands.metrics_counting``). Prometheus'
multiprocess directory would only cover processes of one machine sharing a directory and
needs its files cleaned up after every SIGKILLed worker. The price: the counters restart from
0 when Redis loses its data, which Prometheus' ``rate()`` treats as an ordinary counter reset.
Gauges (queue depths, outbox rows by status) are read from the broker and the store on each
scrape. Every labelled series of a configured bot is written from the first scrape, at 0, so
alert expressions see 0 rather than no data; there are no precomputed rates (use ``rate()``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib.metadata import PackageNotFoundError, version

import redis
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from bots.unusable import rejected_counts
from bots.webhook import StoreUnavailable, store_call
from config import Settings
from store import leases, outbox
from store.counters import INBOUND_KINDS
from workers.engine import Engine
from workers.queues import depths
from workers.ratelimit import bot_key, configured_rate
from workers.stats import (
    DEFER_REASONS,
    FAILURE_REASONS,
    LATENCY_BUCKETS_S,
    RETRY_REASONS,
    SENT_KINDS,
    WEBHOOK_CODES,
    Snapshot,
)

# outcome -> (metric name without _total, help, label of the reason, reasons always written)
COUNTERS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "inbound": (
        "switchboard_messages_inbound",
        "Inbound messages stored (redeliveries not counted), by kind",
        "kind",
        INBOUND_KINDS,
    ),
    "sent": (
        "switchboard_messages_sent",
        "Messages the platform accepted, by kind",
        "kind",
        SENT_KINDS,
    ),
    "failed": (
        "switchboard_send_failures",
        "Messages given up on (permanent error, blocked, attempts exhausted), by error class",
        "reason",
        FAILURE_REASONS,
    ),
    "retried": (
        "switchboard_send_retries",
        "Failed attempts that will be retried (RetryAfter, transient errors), by error class",
        "reason",
        RETRY_REASONS,
    ),
    "deferred": (
        "switchboard_send_deferrals",
        "Sends put back before the platform call (no rate-limit slot or window room in time)",
        "reason",
        DEFER_REASONS,
    ),
    "webhook": (
        "switchboard_webhook_requests",
        "Webhook requests answered, by HTTP status code",
        "code",
        WEBHOOK_CODES,
    ),
}
OUTBOX_STATUSES = ("queued", "sending", "sent", "delivered", "read", "failed")


def build_version() -> str:
    try:
        return version("switchboard")
    except PackageNotFoundError:
        return "unknown"


def counter_families(snap: Snapshot, bots: Iterable[str]) -> Iterator[Metric]:
    """The counters of ``snap``: every fixed reason of every bot in ``bots`` at least at 0,
    plus whatever else was counted (a reason or status code outside the fixed set)."""
    names = list(bots)
    for outcome, (name, doc, label, fixed) in COUNTERS.items():
        values = {(bot, reason): 0 for bot in names for reason in fixed}
        for (counted, bot, reason), n in snap.counters.items():
            if counted == outcome:
                values[(bot, reason)] = n
        family = CounterMetricFamily(name, doc, labels=["bot", label])
        for (bot, reason), n in sorted(values.items()):
            family.add_metric([bot, reason], n)
        yield family


def latency_family(snap: Snapshot, bots: Iterable[str]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "switchboard_send_latency_seconds", "Time of one platform call (seconds)", labels=["bot"]
    )
    for bot in sorted(set(bots) | set(snap.latency)):
        counts = snap.buckets(bot)
        cumulative, buckets = 0, []
        for bound, n in zip(LATENCY_BUCKETS_S, counts, strict=False):
            cumulative += n
            buckets.append((floatToGoString(bound), float(cumulative)))
        buckets.append(("+Inf", float(sum(counts))))
        family.add_metric([bot], buckets, snap.latency_sum_s.get(bot, 0.0))
    return family


class DeliveryCollector(Collector):
    """Reads ``engine.stats``, the limiter, the broker and the outbox on every ``collect``."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        snap = self.engine.stats.snapshot()
        bots = [config.name for config in self.settings.bots]
        yield from counter_families(snap, bots)
        yield latency_family(snap, bots)
        yield from self._outbox()
        yield from self._bots(snap)
        info = GaugeMetricFamily(
            "switchboard_build_info", "The running version (always 1)", labels=["version"]
        )
        info.add_metric([build_version()], 1)
        yield info

    def _outbox(self) -> Iterator[Metric]:
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
        counts = {status: 0 for status in OUTBOX_STATUSES} | outbox.counts_by_status()
        for status, n in sorted(counts.items()):
            rows.add_metric([status], n)
        yield rows
        yield GaugeMetricFamily(
            "switchboard_outbox_oldest_queued_seconds",
            "Age of the oldest queued outbound message (seconds; 0 with none queued)",
            value=outbox.oldest_queued_age_s(),
        )
        yield GaugeMetricFamily(
            "switchboard_workers_alive",
            "Sending processes with a live lease (store.leases)",
            value=len(leases.live_workers(self.settings.delivery.lease_s)),
        )

    def _bots(self, snap: Snapshot) -> Iterator[Metric]:
        labels = ["bot"]
        up = GaugeMetricFamily(
            "switchboard_bot_up",
            "1 while the bot is enabled and its latest platform call was answered "
            "(0: disabled, or the platform unreachable / failing since)",
            labels=labels,
        )
        wait = GaugeMetricFamily(
            "switchboard_limiter_next_slot_seconds",
            "Seconds until the rate limiter lets the bot's next message go",
            labels=labels,
        )
        limit = GaugeMetricFamily(
            "switchboard_bot_rate_limit", "Configured send rate (messages/s)", labels=labels
        )
        learned = GaugeMetricFamily(
            "switchboard_bot_learned_rate",
            "Send rate the limiter learned from the platform's 429s (messages/s)",
            labels=labels,
        )
        refusals = CounterMetricFamily(
            "switchboard_bot_429",
            "Bot-wide rate-limit refusals (429 / 130429) the limiter counted",
            labels=labels,
        )
        retry_after = GaugeMetricFamily(
            "switchboard_bot_last_retry_after_seconds",
            "retry_after of the platform's latest rate cut (seconds; 0 before the first)",
            labels=labels,
        )
        limiter = self.engine.limiter
        for config in self.settings.bots:
            name, configured = config.name, configured_rate(config, self.settings.delivery)
            state = limiter.bot_rate(bot_key(name))
            up.add_metric([name], int(config.enabled and name not in snap.down))
            wait.add_metric([name], limiter.next_free_s(bot_key(name)))
            limit.add_metric([name], configured)
            learned.add_metric([name], state.factor * configured)
            refusals.add_metric([name], state.refusals)
            last = state.recent_retry_after_s[-1] if state.recent_retry_after_s else 0.0
            retry_after.add_metric([name], last)
        yield from (up, wait, limit, learned, refusals, retry_after)
        # Per serve process (bots.unusable), reasons open-ended: written as they happen.
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
    """A registry of its own holding the delivery collector and the client library's standard
    process (``process_*``), platform (``python_info``) and garbage-collector collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeliveryCollector(settings, engine))
    for standard in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(standard)
    return registry


async def metrics(request: web.Request) -> web.Response:
    from commands.ops_auth import AUTH_KEY

    request.app[AUTH_KEY].guard(request)
    try:
        body = await store_call(generate_latest, request.app[REGISTRY_KEY])
    except StoreUnavailable as exc:
        return web.Response(status=503, text=f"metrics: the store is unreachable ({exc})")
    except redis.RedisError as exc:  # Prometheus marks the scrape failed; say why in one line
        return web.Response(status=503, text=f"metrics: Redis: {type(exc).__name__}: {exc}")
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
