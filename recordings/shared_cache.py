"""Django's Redis cache, which the processes share, answered from the process's own memory while
Redis does not answer: a cache out of reach costs a recount, never a page.

After a failure every call to that Redis, from any of the process's threads and caches, goes to the
process's memory for RETRY_SECONDS, then Redis is asked again; so an outage costs one short wait per
process and pause, not one a call.
"""

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

RETRY_SECONDS = 10.0
# A Redis that does not answer in this long counts as out of reach (redis-py waits forever by default).
SOCKET_SECONDS = 0.5
# What redis-py raises when Redis is out of reach: its own errors, and the socket's.
UNREACHABLE = (redis.RedisError, OSError)

# Until when each Redis (by LOCATION) is left alone. Django makes a cache backend per thread: the
# mark is the process's, so that one thread's failure spares the others the wait.
down_until: dict[str, float] = {}
down_lock = threading.Lock()


class FallbackRedisCache(RedisCache):
    """CACHES' OPTIONS go to redis-py's connection pool, as RedisCache's; FALLBACK_OPTIONS (say
    MAX_ENTRIES) to the in-process LocMemCache used meanwhile."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = {"socket_connect_timeout": SOCKET_SECONDS, "socket_timeout": SOCKET_SECONDS}
        self.options = options | params.get("OPTIONS", {})
        super().__init__(server, {**params, "OPTIONS": self.options})
        self.location = server
        self.urls = re.split("[;,]", server)  # as RedisCache splits LOCATION
        try:
            for url in self.urls:
                redis.connection.parse_url(url)
            self.readable = True
        except ValueError:  # settings refuse such a URL; never a failed page all the same
            self.readable = False
        self.fallback = LocMemCache(
            f"fallback-{server}-{params.get('KEY_PREFIX', '')}",
            {key: params[key] for key in ("TIMEOUT", "KEY_PREFIX", "VERSION", "KEY_FUNCTION") if key in params}
            | {"OPTIONS": params.get("FALLBACK_OPTIONS", {})},
        )

    def either(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        shared: Callable[..., Any] = getattr(super(), method)
        return self.shared_or_local(
            lambda: shared(*args, **kwargs), lambda: getattr(self.fallback, method)(*args, **kwargs)
        )

    def shared_or_local(self, shared: Callable[[], Any], local: Callable[[], Any]) -> Any:
        if self.readable and time.monotonic() >= down_until.get(self.location, 0.0):
            try:
                return shared()
            except UNREACHABLE as exc:
                self.out_of_reach(exc)
        return local()

    def out_of_reach(self, exc: Exception) -> None:
        with down_lock:
            down_until[self.location] = time.monotonic() + RETRY_SECONDS
        logger.warning(
            "cache %s: Redis does not answer (%s); this process keeps its own for %ds",
            self.key_prefix or "default",
            exc,
            RETRY_SECONDS,
        )

    def add(self, *args: Any, **kwargs: Any) -> Any:
        return self.either("add", args, kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self.either("get", args, kwargs)

    def set(self, *args: Any, **kwargs: Any) -> Any:
        return self.either("set", args, kwargs)

    def touch(self, *args: Any, **kwargs: Any) -> Any:
        return self.either("touch", args, kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        return self.either("delete", args, kwargs)

    def get_many(self, *args: Any, **kwargs: Any) -> Any:
        return self.either("get_many", args, kwargs)

    def has_key(self, *args: Any, **kwargs: Any) -> Any:
        return self.either("has_key", args, kwargs)

    def incr(self, *args: Any, **kwargs: Any) -> Any:
        return self.either("incr", args, kwargs)

    def set_many(self, *args: Any, **kwargs: Any) -> Any:
        return self.either("set_many", args, kwargs)

    def delete_many(self, *args: Any, **kwargs: Any) -> Any:
        return self.either("delete_many", args, kwargs)

    def clear(self) -> Any:
        """Only this cache's keys: RQ's queue and the other caches may live in the same database."""
        self.fallback.clear()
        return self.shared_or_local(self.delete_own_keys, lambda: None)

    def delete_own_keys(self) -> None:
        # RedisCache writes to the first URL; OPTIONS but for the three RedisCache reads itself.
        options = {k: v for k, v in self.options.items() if k not in ("parser_class", "pool_class", "serializer")}
        client = redis.Redis.from_url(self.urls[0], **options)
        pattern = re.sub(r"([\\*?\[\]])", r"\\\1", self.key_prefix) + ":*"
        batch: list[bytes] = []
        try:
            for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) == 1000:
                    client.delete(*batch)
                    batch = []
            if batch:
                client.delete(*batch)
        finally:
            client.close()
