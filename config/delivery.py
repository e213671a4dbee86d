"""How the outbox is sent: ``DeliverySettings`` (worker pool, retries, sweep, pacing and
the learned rate)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from config.fields import StrictModel


class DeliverySettings(StrictModel):
    """How the outbox is sent: worker pool, retries, sweep and pacing (times in seconds).

    ``catch_up_s``: how much sending time a bot's limiter may make up after its own senders
    stalled, as a short burst (default 0.5 s: 15 messages at 30/s; 0 spaces messages strictly).
    The window guard still holds every burst to the platform's per-second limit, and a
    platform's pause is never made up (see ``workers.pacing``).
    ``window_margin_s`` (default 0.005 s): added to every window after the platform's answer
    (the guarantee needs none; it absorbs clock granularity, and each ms of it costs throughput).
    ``inflight_timeout_s`` (8 s): how long a send with no answer (its worker killed) still
    counts in its windows. Keep it at most ``lease_s``: a dead worker's rows are sent again
    once its lease runs out, and they would wait for its unanswered sends until then.
    The learned rate (AIMD) of each bot: a bot-wide 429 multiplies it by ``rate_cut_factor``
    (0.85), never below ``rate_floor_fraction`` (0.1) of the configured rate; every
    ``rate_raise_every_s`` (10 s) without a 429 adds ``rate_raise_fraction`` (0.05) of it back.
    ``stale_after_s`` must exceed ``max_wait_s``: a send waiting for its slot is not stuck.
    ``max_wait_s``: how far ahead a send may reserve its rate-limit slot (default 2 s; further
    off, the row is deferred); ``bulk_max_wait_s``: how far ahead a bulk-lane send (broadcast,
    resend-failed) may reserve (default 0.5 s), so an operator's reply is never more than that
    behind a broadcast at the limit (docs/operations.md, lanes). ``interactive_threads``: sender
    threads per process for the interactive lane alone (default 2), besides ``worker_threads``
    for the bulk lane, so a reply never waits for a broadcast's sender to be free.
    ``lease_s``: a sending process renews its lease every ``lease_s / 4``; the rows it claimed
    go to other workers once it has not for ``lease_s`` (default 8 s: a SIGKILLed worker's rows
    are sent again about 10 s after its death). ``stale_after_s`` (default 120 s) remains the
    last resort for rows whose claimer had no lease and for ids the broker lost.
    """

    namespace: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] = "switchboard"
    """Prefix of every Redis key and queue, so several installations can share one Redis."""
    worker_processes: Annotated[int, Field(ge=1, le=64)] = 1
    """Processes `./switchboard worker` starts."""
    worker_threads: Annotated[int, Field(ge=1, le=256)] = 8
    """Sending threads per worker process (and inside `serve` with `memory://`) for the bulk lane
    (broadcasts, resend-failed); `interactive_threads` more send operators' messages."""
    max_attempts: Annotated[int, Field(ge=1)] = 5
    """Attempts before a message fails for good after temporary errors (a permanent error fails it
    at once).
    """
    backoff_base_s: Annotated[float, Field(gt=0)] = 2.0
    """First retry delay after a temporary error, doubling with each attempt."""
    backoff_max_s: Annotated[float, Field(gt=0)] = 600.0
    """Longest retry delay."""
    stale_after_s: Annotated[float, Field(gt=0)] = 120.0
    """A row queued or sending this long is handed to the broker again: the last resort for ids the
    broker lost; must exceed `max_wait_s`.
    """
    dispatch_interval_s: Annotated[float, Field(gt=0, le=5)] = 0.2
    """How often the dispatcher hands due outbox rows to the broker."""
    max_wait_s: Annotated[float, Field(ge=0)] = 2.0
    """How far ahead a send may reserve its rate-limit slot; further off, the row is deferred."""
    bulk_max_wait_s: Annotated[float, Field(ge=0)] = 0.5
    """The same for bulk sends (broadcasts, resend-failed), so a reply is never more than this
    behind a broadcast at the limit.
    """
    interactive_threads: Annotated[int, Field(ge=1, le=64)] = 2
    """Sender threads per process for the interactive lane alone (operators' messages), besides
    `worker_threads`, so a reply never waits for a broadcast's sender to be free.
    """
    lease_s: Annotated[float, Field(ge=2, le=600)] = 8.0
    """A sending process renews its lease every `lease_s / 4`; its claimed rows go to other workers
    once it has not for `lease_s`.
    """
    rate_headroom: Annotated[float, Field(gt=0, le=1)] = 1.0
    """Fraction of every platform limit used (1: the whole limit)."""
    catch_up_s: Annotated[float, Field(ge=0, le=1)] = 0.5
    """Sending time a bot's limiter may make up in a burst after its senders stalled (0: messages
    strictly spaced).
    """
    window_margin_s: Annotated[float, Field(ge=0, le=1)] = 0.005
    """Added to every rate window after the platform's answer."""
    inflight_timeout_s: Annotated[float, Field(gt=0, le=600)] = 8.0
    """How long a send with no answer (its worker killed) still counts in its rate windows; keep it
    at most `lease_s`.
    """
    rate_cut_factor: Annotated[float, Field(gt=0, lt=1)] = 0.85
    """A bot-wide 429 multiplies the bot's learned rate by this."""
    rate_floor_fraction: Annotated[float, Field(gt=0, le=1)] = 0.1
    """The learned rate never falls below this fraction of the configured rate."""
    rate_raise_fraction: Annotated[float, Field(gt=0, le=1)] = 0.05
    """Fraction of the configured rate given back every `rate_raise_every_s` without a 429."""
    rate_raise_every_s: Annotated[float, Field(gt=0)] = 10.0
    """How often the learned rate is raised again."""

    @model_validator(mode="after")
    def _sweep_after_waits(self) -> DeliverySettings:
        if self.stale_after_s <= self.max_wait_s:
            raise ValueError(
                f"stale_after_s ({self.stale_after_s:g}) must exceed max_wait_s "
                f"({self.max_wait_s:g}): a send waiting for its slot would be swept and sent twice"
            )
        return self
