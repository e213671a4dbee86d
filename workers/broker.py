"""Broker URLs: ``memory://`` (worker threads inside ``serve``) or ``redis://host:port/db``."""

from __future__ import annotations

import redis


def is_memory(url: str) -> bool:
    return url == "memory://"


def broker_state(url: str, timeout_s: float = 2.0) -> tuple[bool, str]:
    """Whether the broker answers, and a short word on its state for ``/healthz``.

    ``timeout_s`` bounds the Redis ping (seconds, default 2).
    """
    if is_memory(url):
        return True, "in-process"
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        client.ping()
        return True, "ok"
    except redis.RedisError as exc:
        return False, f"unreachable: {type(exc).__name__}"
    finally:
        client.close()
