"""Django's Redis cache, which the processes share, answered from the process's own memory while
Redis does not answer: a cache out of reach costs a recount, never a page.

After a failure every call goes to the process's memory for RETRY_SECONDS, then Redis is asked
again; so an outage costs one short wait per process and pause, not one a call.
"""

import logging
import time
from typing import Any

import redis
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

RETRY_SECONDS = 10.0
# A Redis that does not answer in this long counts as out of reach (redis-py waits forever by default).
SOCKET_SECONDS = 0.5


class FallbackRedisCache(RedisCache):
    """CACHES' OPTIONS go to redis-py's connection pool, as RedisCache's; FALLBACK_OPTIONS (say
    MAX_ENTRIES) to the in-process LocMemCache used meanwhile."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = {"socket_connect_timeout": SOCKET_SECONDS, "socket_timeout": SOCKET_SECONDS}
        super().__init__(server, {**params, "OPTIONS": options | params.get("OPTIONS", {})})
        self.fallback = LocMemCache(
            f"fallback-{server}-{params.get('KEY_PREFIX', '')}",
            {key: params[key] for key in ("TIMEOUT", "KEY_PREFIX", "VERSION", "KEY_FUNCTION") if key in params}
            | {"OPTIONS": params.get("FALLBACK_OPTIONS", {})},
        )
        self.down_until = 0.0

    def either(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if time.monotonic() >= self.down_until:
            try:
                return getattr(super(), method)(*args, **kwargs)
            except redis.RedisError as exc:
                self.down_until = time.monotonic() + RETRY_SECONDS
                logger.warning(
                    "cache %s: Redis does not answer (%s); this process keeps its own for %ds",
                    self.key_prefix or "default",
                    exc,
                    RETRY_SECONDS,
                )
        return getattr(self.fallback, method)(*args, **kwargs)

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
        self.fallback.clear()
        return self.either("clear", (), {})
