"""Sending one outbox row: claim it, wait for its rate-limit slot, call the adapter, record.

What happens on each classified error of ``bots.errors`` (the outbox decides, never the
broker's own retries):

* ``RetryAfter(n)``: retried exactly ``n`` seconds after the error (``next_attempt_at``) and
  the whole bot (``scope="bot"``) or only that chat (``scope="chat"``) pauses ``n`` seconds
  in the shared limiter, so no other worker runs into the same wall. A bot-wide one also cuts
  the bot's learned rate (``Limiter.throttle``); a growing series of retry-afters is logged at
  WARNING.
* ``TransientError`` (and any unexpected exception): exponential backoff with jitter —
  ``backoff_base_s * 2**(attempt-1)`` scaled by a random factor in [0.5, 1], at most
  ``backoff_max_s`` — until ``max_attempts`` attempts, then failed.
* ``Blocked``: failed, the client flagged unsubscribed, no retry.
* ``RecipientGone``, ``PermanentError``: failed, no retry.

Before the platform call, the send waits for its slot (``acquire``: spacing) and then for
room in every window of its keys (``admit``); the platform's answer closes its window entry
(``done``). Adapters are async; each worker thread keeps one event loop and one adapter per
bot, reused for every message that thread sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from bots.contract import (
    ChannelAdapter,
    OutboundAttachment,
    OutboundMessage,
    SendResult,
    Template,
)
from bots.errors import (
    Blocked,
    ChannelError,
    RetryAfter,
    TransientError,
)
from config import Settings
from store import outbox
from store.clock import utcnow
from store.inbound import rekey_client
from store.models import Bot, Client, Message
from workers.lanes import is_paid, reserve, window_yield_s
from workers.lease import LEASE_RETRY_S, Lease
from workers.outcomes import failure_reason, log_failed, log_fields, sent_kind
from workers.pulse import MemoryPulse, Pulse
from workers.ratelimit import BotConfig, Limit, Limiter, limits_for
from workers.stats import Stats

log = logging.getLogger("switchboard.delivery")

AdapterFactory = Callable[[BotConfig, Settings], ChannelAdapter]


def default_adapter_factory(bot: BotConfig, settings: Settings) -> ChannelAdapter:
    from bots.registry import adapter_class

    adapter: ChannelAdapter = adapter_class(bot.kind)(bot, settings)
    return adapter


def backoff_s(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Delay before attempt ``attempt + 1`` after ``attempt`` failed ones (seconds)."""
    return min(max_s, base_s * 2 ** max(0, attempt - 1)) * rng.uniform(0.5, 1.0)


class Sender:
    """Everything one process needs to send outbox rows; thread safe."""

    def __init__(
        self,
        settings: Settings,
        limiter: Limiter,
        stats: Stats,
        adapter_factory: AdapterFactory = default_adapter_factory,
    ) -> None:
        self.settings = settings
        self.limiter = limiter
        self.stats = stats
        self.adapter_factory = adapter_factory
        self._local = threading.local()
        self._bots: dict[int, str] = {}
        self._rng = random.Random()
        self._all_threads: list[tuple[asyncio.AbstractEventLoop, dict[str, ChannelAdapter]]] = []
        self._lock = threading.Lock()
        # This process's worker lease (``Engine.start_workers``); None: rows claimed here come
        # back only through the outbox sweep (a one-off ``switchboard ... write``).
        self.lease: Lease | None = None
        # Signs of life for /ops (``Engine`` shares its own, in Redis in redis:// mode).
        self.pulse: Pulse = MemoryPulse()

    # -- per-thread event loop and adapters ---------------------------------------------------
    def _thread_state(self) -> tuple[asyncio.AbstractEventLoop, dict[str, ChannelAdapter]]:
        state: tuple[asyncio.AbstractEventLoop, dict[str, ChannelAdapter]] | None
        state = getattr(self._local, "state", None)
        if state is None:
            state = (asyncio.new_event_loop(), {})
            self._local.state = state
            with self._lock:
                self._all_threads.append(state)
        return state

    def _adapter(self, bot: BotConfig) -> tuple[asyncio.AbstractEventLoop, ChannelAdapter]:
        loop, adapters = self._thread_state()
        adapter = adapters.get(bot.name)
        if adapter is None:
            adapter = adapters[bot.name] = self.adapter_factory(bot, self.settings)
        return loop, adapter

    def close_thread(self) -> None:
        """Close this thread's adapters and event loop (worker thread shutdown)."""
        state = getattr(self._local, "state", None)
        if state is not None:
            self._close(state)
            self._local.state = None

    def close(self) -> None:
        """Close what is left of every thread's adapters (process shutdown)."""
        with self._lock:
            states, self._all_threads = self._all_threads, []
        for state in states:
            self._close(state)

    def _close(self, state: tuple[asyncio.AbstractEventLoop, dict[str, ChannelAdapter]]) -> None:
        loop, adapters = state
        if loop.is_closed():
            return
        for adapter in adapters.values():
            try:
                loop.run_until_complete(adapter.close())
            except Exception:
                log.exception("closing adapter %s", adapter.name)
        adapters.clear()
        loop.close()

    # -- sending -------------------------------------------------------------------------------
    def _bot_name(self, bot_id: int) -> str:
        name = self._bots.get(bot_id)
        if name is None:
            name = self._bots[bot_id] = Bot.get_by_id(bot_id).name
        return name

    def send(self, message_id: int) -> str:
        """Try to send outbox row ``message_id``; returns what happened (for logs and tests):
        ``skipped`` (someone else has it, or not due), ``deferred``, ``sent``, ``retry``,
        ``failed``."""
        lease = self.lease
        row = outbox.claim(message_id, worker_id=lease.worker_id if lease else None)
        if row is None:
            return "skipped"
        bot_name = self._bot_name(row.bot_id)
        try:
            bot = self.settings.bot(bot_name)
        except KeyError:
            bot = None
        if bot is None or not bot.enabled:
            reason = f"bot {bot_name!r} is not configured or disabled"
            outbox.mark_failed(row.id, "no_bot", reason)
            self.stats.record(bot_name, "failed", "no_bot")
            log_failed(row, bot_name, "no_bot", reason)
            return "failed"
        messenger_id = Client.select(Client.messenger_id).where(Client.id == row.client_id)
        recipient = messenger_id.scalar()
        delivery = self.settings.delivery
        limits = limits_for(
            bot,
            recipient,
            delivery.rate_headroom,
            delivery.catch_up_s,
            paid=is_paid(bot, row.priority),
        )
        # Build the thread's adapter before taking a slot: the first build imports the
        # platform's library and may take seconds on a busy machine, and a send must not hold
        # a window entry meanwhile (past inflight_timeout_s it would stop counting while its
        # request has not even left). A build error is the message's: ``_call`` reports it.
        with contextlib.suppress(Exception):
            self._adapter(bot)
        started = time.monotonic()
        grant = reserve(  # bulk rows reserve only a short way ahead (workers.lanes)
            self.limiter,
            limits,
            priority=row.priority,
            max_wait_s=delivery.max_wait_s,
            bulk_max_wait_s=delivery.bulk_max_wait_s,
        )
        if not grant.granted:
            return self._defer(row.id, bot_name, grant.wait_s, "rate_limit")
        if grant.wait_s > 0:
            time.sleep(grant.wait_s)
        if lease is not None and not lease.held():
            # Our lease may have run out: a dispatcher may give the row to another worker.
            # Back to the outbox, due again in a moment (here or elsewhere), not sent twice.
            return self._defer(row.id, bot_name, LEASE_RETRY_S, "lease")
        # Slot and window together wait at most max_wait_s: a waiting send is never "stuck".
        budget_s = delivery.max_wait_s - (time.monotonic() - started)
        entry, wait_s = self._admit(limits, budget_s, window_yield_s(row.priority))
        if entry is None:
            return self._defer(row.id, bot_name, wait_s, "window")
        return self._call(row, bot, recipient, limits, entry)

    def _admit(
        self, limits: list[Limit], budget_s: float, yield_s: float = 0.0
    ) -> tuple[str | None, float]:
        """Wait (at most ``budget_s`` seconds) until every window of ``limits`` has room;
        returns the window entry, or None and the wait still needed. ``yield_s``: how long
        after the room opens this send looks again (``workers.lanes.window_yield_s``)."""
        deadline = time.monotonic() + max(0.0, budget_s)
        while True:
            admission = self.limiter.admit(limits)
            if admission.entry is not None:
                return admission.entry, 0.0
            if time.monotonic() + admission.wait_s > deadline:
                return None, admission.wait_s
            time.sleep(admission.wait_s + yield_s)

    def _defer(self, row_id: int, bot_name: str, wait_s: float, reason: str) -> str:
        outbox.defer(row_id, utcnow() + dt.timedelta(seconds=wait_s))
        self.stats.record(bot_name, "deferred", reason)
        return "deferred"

    def _call(
        self, row: Message, bot: BotConfig, recipient: str, limits: list[Limit], entry: str
    ) -> str:
        message = _outbound(row, bot.name, recipient, paid=is_paid(bot, row.priority))
        started = time.perf_counter()
        try:
            # Building the adapter can fail too (a bad token, a library error): that is the
            # message's error, retried and then stored on the row like any other.
            try:
                loop, adapter = self._adapter(bot)
                result: SendResult = loop.run_until_complete(adapter.send(message))
            finally:
                self.limiter.done(limits, entry)  # the answer (or error) closes the window
        except RetryAfter as exc:
            failed_at = utcnow()
            self._pause(bot, limits, exc)
            outbox.retry_later(
                row.id,
                failed_at + dt.timedelta(seconds=exc.seconds),
                exc.code or "retry_after",
                exc.reason,
                now=failed_at,
            )
            self.stats.record(bot.name, "retried", "RetryAfter", time.perf_counter() - started)
            # Routine under load: DEBUG (an escalating series is a WARNING in ``_pause``).
            log.debug(
                "bot %s: message %s to client %s: %s; retry in %g s",
                bot.name,
                row.id,
                row.client_id,
                exc.reason,
                exc.seconds,
                extra=log_fields(row, bot.name, exc.code or "retry_after"),
            )
            self.pulse.error(bot.name, exc.code or "retry_after", exc.reason)
            return "retry"
        except Blocked as exc:
            outbox.mark_failed(row.id, exc.code or "blocked", exc.reason)
            Client.update(unsubscribed=True).where(Client.id == row.client_id).execute()
            self.stats.record(bot.name, "failed", "Blocked", time.perf_counter() - started)
            log_failed(row, bot.name, exc.code or "blocked", exc.reason)
            return "failed"
        except ChannelError as exc:
            if (
                isinstance(exc, TransientError)
                and exc.maybe_delivered
                and outbox.at_most_once(row.dedup_key)
            ):
                return self._uncertain(row, bot.name, exc, started)
            if not isinstance(exc, TransientError):
                code = exc.code or type(exc).__name__
                outbox.mark_failed(row.id, code, exc.reason)
                self.stats.record(bot.name, "failed", failure_reason(exc))
                log_failed(row, bot.name, code, exc.reason)
                self.pulse.error(bot.name, code, exc.reason)
                return "failed"
            return self._transient(row, bot.name, exc.code or "transient", exc.reason, started)
        except Exception as exc:  # an adapter bug or an unclassified network error
            log.exception("message %s: unexpected error from %s", row.id, bot.name)
            reason = f"{type(exc).__name__}: {exc}"
            return self._transient(row, bot.name, "unexpected", reason, started)
        outbox.mark_sent(row.id, result.platform_message_id)
        canonical = result.extra.get("messenger_id")
        if isinstance(canonical, str) and canonical and canonical != recipient:
            rekey_client(row.client_id, canonical)
        self.stats.record(bot.name, "sent", sent_kind(row), time.perf_counter() - started)
        self.pulse.sent(bot.name)
        return "sent"

    def _uncertain(self, row: Message, bot: str, exc: TransientError, started: float) -> str:
        """A send that may have arrived, of a row that must not be sent twice: ``uncertain``,
        never retried."""
        code = exc.code or "timeout"
        outbox.mark_uncertain(row.id, code, exc.reason)
        self.stats.record(bot, "failed", "TransientError", time.perf_counter() - started)
        log.warning(
            "bot %s: message %s to client %s: %s %s; it may have arrived and is sent at most "
            "once, so it is not retried (uncertain)",
            bot,
            row.id,
            row.client_id,
            code,
            exc.reason,
            extra=log_fields(row, bot, code),
        )
        self.pulse.error(bot, code, exc.reason)
        return "uncertain"

    def _pause(self, bot: BotConfig, limits: list[Limit], exc: RetryAfter) -> None:
        """A platform pause: the whole bot (and its learned rate cut) or that one chat."""
        bot_limit, *chat_limits = limits
        if exc.scope != "bot" and chat_limits:
            self.limiter.pause(chat_limits[0].key, exc.seconds)
            return
        penalty = self.limiter.throttle(bot_limit, exc.seconds)
        if penalty.escalating:
            series = ", ".join(f"{s:g}" for s in penalty.recent_retry_after_s)
            log.warning(
                "bot %s: the platform escalates its retry_after (%s s); learned rate now "
                "%.0f %% of the configured one",
                bot.name,
                series,
                penalty.factor * 100,
            )

    def _transient(self, row: Message, bot: str, code: str, reason: str, started: float) -> str:
        delivery = self.settings.delivery
        latency = time.perf_counter() - started
        self.pulse.error(bot, code, reason)
        if row.attempts >= delivery.max_attempts:
            text = f"{reason} (gave up after {row.attempts} attempts)"
            outbox.mark_failed(row.id, code, text)
            self.stats.record(bot, "failed", "TransientError", latency)
            log_failed(row, bot, code, text)
            return "failed"
        delay = backoff_s(row.attempts, delivery.backoff_base_s, delivery.backoff_max_s, self._rng)
        now = utcnow()
        outbox.retry_later(row.id, now + dt.timedelta(seconds=delay), code, reason, now=now)
        self.stats.record(bot, "retried", "TransientError", latency)
        log.debug(
            "bot %s: message %s to client %s: %s %s (attempt %d); retry in %.1f s",
            bot,
            row.id,
            row.client_id,
            code,
            reason,
            row.attempts,
            delay,
            extra=log_fields(row, bot, code),
        )
        return "retry"


def _outbound(
    row: Message, bot_name: str, recipient: str, *, paid: bool = False
) -> OutboundMessage:
    attachments = tuple(
        OutboundAttachment(
            kind=a.get("kind", "document"),
            url=a.get("url"),
            path=a.get("path"),
            file_id=a.get("file_id"),
            file_name=a.get("file_name"),
            mime_type=a.get("mime_type"),
        )
        for a in (row.attachments or [])
    )
    extra: dict[str, Any] = dict(row.extra or {})
    template = _template(extra.pop("template", None))
    return OutboundMessage(
        bot_name=bot_name,
        messenger_id=recipient,
        text=row.text,
        subject=row.subject,
        attachments=attachments,
        reply_markup=extra.pop("reply_markup", None),
        reply_to=extra.pop("reply_to", None),
        template=template,
        outbox_id=row.id,
        paid_broadcast=paid,
        extra=extra,
    )


def _template(spec: Any) -> Template | None:
    """``extra["template"]`` of a row (``{"name", "language", "components"}``) as a ``Template``."""
    if not isinstance(spec, dict) or not spec.get("name"):
        return None
    components = tuple(c for c in spec.get("components") or () if isinstance(c, dict))
    return Template(str(spec["name"]), str(spec.get("language") or "en_US"), components)
