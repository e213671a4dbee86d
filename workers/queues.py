"""What the broker holds, for ``/ops`` and ``/metrics``: queue depths and dead letters.

Each delivery lane has its queue (``workers.lanes.QUEUES``: ``outbox`` for bulk,
``outbox_interactive``); the figures here add both up. Dramatiq's Redis broker keeps, under
``<namespace>:``, per queue ``Q`` the list ``Q`` (ready ids), the hash ``Q.msgs`` (every message
not yet acknowledged: ready and prefetched by a worker), the delay queue ``Q.DQ`` /
``Q.DQ.msgs`` and the dead letters, a sorted set ``Q.XQ`` (score: when, in ms) with their bodies
in ``Q.XQ.msgs``. The ``StubBroker`` of ``memory://`` mode keeps Python queues and
``dead_letters_by_queue``.

A dead letter here is a ``send_message`` call that raised (the sender itself never raises for a
platform error, so it means the store or an adapter could not even be reached); the outbox row
behind it is swept back anyway after ``stale_after_s``. Requeueing sends it again at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, xq_name

from store import outbox
from workers.engine import Engine
from workers.lanes import QUEUES


@dataclass(frozen=True, slots=True)
class QueueDepths:
    """Messages in the broker: ``ready`` to be fetched, ``in_flight`` fetched by a worker and
    not yet acknowledged, ``delayed`` (Dramatiq's delay queue) and ``dead`` letters."""

    ready: int
    in_flight: int
    delayed: int
    dead: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """``key``: the broker's id of the dead message; ``outbox_id``: the row it was to send;
    ``at``: when it was dead-lettered (naive UTC, None when the broker does not say)."""

    key: str
    outbox_id: int | None
    at: dt.datetime | None


def _outbox_id(message: dramatiq.Message[Any]) -> int | None:
    args = message.args
    return int(args[0]) if args and isinstance(args[0], int) else None


def depths(engine: Engine) -> QueueDepths:
    broker = engine.broker
    if isinstance(broker, RedisBroker):
        ns = broker.namespace
        pipe = engine.redis.pipeline(transaction=False)  # type: ignore[union-attr]
        for queue in QUEUES.values():
            pipe.llen(f"{ns}:{queue}")
            pipe.hlen(f"{ns}:{queue}.msgs")
            pipe.hlen(f"{ns}:{dq_name(queue)}.msgs")
            pipe.zcard(f"{ns}:{xq_name(queue)}")
        counts = [int(n) for n in pipe.execute()]
        ready, unacked, delayed, dead = (sum(counts[i::4]) for i in range(4))
        return QueueDepths(ready, max(0, unacked - ready), delayed, dead)
    assert isinstance(broker, StubBroker)
    queues = broker.queues
    ready = sum(queues[q].qsize() for q in QUEUES.values() if q in queues)
    delayed = sum(queues[dq_name(q)].qsize() for q in QUEUES.values() if dq_name(q) in queues)
    dead = sum(len(broker.dead_letters_by_queue[q]) for q in QUEUES.values())
    # The stub broker does not tell prefetched messages apart from finished ones.
    return QueueDepths(ready, 0, delayed, dead)


def dead_letters(engine: Engine, limit: int = 50) -> list[DeadLetter]:
    """The newest ``limit`` dead letters of every lane (default 50), newest first."""
    broker = engine.broker
    if isinstance(broker, RedisBroker):
        client = engine.redis
        assert client is not None
        found = []
        for queue in QUEUES.values():
            key = f"{broker.namespace}:{xq_name(queue)}"
            entries: list[tuple[bytes, float]] = client.zrevrange(
                key, 0, limit - 1, withscores=True
            )  # type: ignore[assignment]
            if not entries:
                continue
            bodies: list[bytes | None] = client.hmget(f"{key}.msgs", [k for k, _ in entries])  # type: ignore[assignment]
            for (raw_key, score), body in zip(entries, bodies, strict=True):
                outbox_id = _outbox_id(dramatiq.Message.decode(body)) if body else None
                at = dt.datetime.fromtimestamp(score / 1000, dt.UTC).replace(tzinfo=None)
                found.append(DeadLetter(raw_key.decode(), outbox_id, at))
        found.sort(key=lambda letter: letter.at or dt.datetime.min, reverse=True)
        return found[:limit]
    assert isinstance(broker, StubBroker)
    letters = [m for q in QUEUES.values() for m in broker.dead_letters_by_queue[q]][-limit:]
    return [DeadLetter(m.message_id, _outbox_id(m._message), None) for m in reversed(letters)]


def _take_letter(engine: Engine, key: str) -> dramatiq.Message[Any] | None:
    """Remove dead letter ``key`` from its dead-letter queue and return its message; None when
    there is no such letter (someone was faster)."""
    broker = engine.broker
    if isinstance(broker, RedisBroker):
        client = engine.redis
        assert client is not None
        for queue in QUEUES.values():
            xq = f"{broker.namespace}:{xq_name(queue)}"
            body: bytes | None = client.hget(f"{xq}.msgs", key)  # type: ignore[assignment]
            # ZREM decides among concurrent requeues of the same letter: one of them removes it.
            if body is None or not client.zrem(xq, key):
                continue
            client.hdel(f"{xq}.msgs", key)
            return dramatiq.Message.decode(body)
        return None
    assert isinstance(broker, StubBroker)
    for queue in QUEUES.values():
        letters = broker.dead_letters_by_queue[queue]
        for proxy in list(letters):
            if proxy.message_id == key:
                letters.remove(proxy)
                message: dramatiq.Message[Any] = proxy._message
                return message
    return None


def requeue(engine: Engine, key: str) -> int | None:
    """Take dead letter ``key`` out of the dead-letter queue, put its outbox row back to
    ``queued`` (due now) unless it was sent meanwhile, and hand it to the broker again (its
    lane's queue). Returns the outbox id, or None when there is no such dead letter (someone
    was faster)."""
    message = _take_letter(engine, key)
    if message is None:
        return None
    outbox_id = _outbox_id(message)
    if outbox_id is not None and outbox.requeue(outbox_id):
        for lane, ids in outbox.lanes_of([outbox_id]).items():
            engine.hand_over(ids, lane)
    return outbox_id


def delete_dead(engine: Engine, key: str) -> tuple[bool, int | None]:
    """Delete dead letter ``key`` for good: the letter leaves the broker and its outbox row,
    unless sent meanwhile, is cancelled (``failed``, code ``cancelled``: the sweep would
    otherwise send it again; Retry now still can). Returns (whether there was such a letter,
    the outbox id it carried)."""
    message = _take_letter(engine, key)
    if message is None:
        return False, None
    outbox_id = _outbox_id(message)
    if outbox_id is not None:
        outbox.cancel_queued([outbox_id], statuses=("queued", "sending"))
    return True, outbox_id


def retry_now(engine: Engine, message_id: int) -> bool:
    """A ``failed`` outbox row sent again now (``/ops``' Retry now): back to ``queued`` with
    its attempts reset and handed to its lane's queue. False when the row is not ``failed``
    (retried already by a colleague's click, sent, gone)."""
    if not outbox.requeue(message_id, statuses=("failed",)):
        return False
    for lane, ids in outbox.lanes_of([message_id]).items():
        engine.hand_over(ids, lane)
    return True
