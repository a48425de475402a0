"""How many long requests one user may have running at once: audio and ZIP streams, exact counts.

With REDIS_URL set the bound holds across every process and machine: each running request is a
member of a sorted set in Redis, scored by when its place lapses, so a place a killed process
never gave back is dropped SLOT_SECONDS after it was taken. Without Redis, and while it does not
answer, each process holds the bound for itself, in its own cache.
"""

import functools
import logging
import threading
import time
import uuid
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

from recordings.shared_cache import RETRY_SECONDS, SOCKET_SECONDS, UNREACHABLE, FallbackRedisCache

logger = logging.getLogger(__name__)

SLOT_SECONDS = 3600

# KEYS[1]: the user's running requests of a kind, scored by when each place lapses; ARGV: the
# limit, the new place's name, how long it lasts. Redis's own clock decides what has lapsed, so
# machines whose clocks disagree still agree on who holds a place.
TAKE_PLACE = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
# A URL redis-py cannot read (settings refuse most) is no reason to fail a request either.
OUT_OF_REACH = (*UNREACHABLE, ValueError)


class TooMany(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} at once")
        self.limit = limit


class Slot:
    """One running request's place; `release` gives it back (once, however often it is called)."""

    def __init__(self, key: str, member: str | None = None, shared: "SharedPlaces | None" = None) -> None:
        self.key = key
        self.member = member
        self.shared = shared
        self.held = True

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if self.shared and self.member:
            self.shared.give_back(self.key, self.member)
            return
        try:
            local_cache().decr(self.key)
        except ValueError:  # expired meanwhile: nothing left to give back
            pass


def acquire(kind: str, user_id: int, limit: int) -> Slot:
    """A place among the user's `limit` running requests of `kind`; TooMany when all are taken."""
    key = f"running:{kind}:{user_id}"
    if settings.REDIS_URL:
        shared = shared_places(settings.REDIS_URL)
        if shared.answering():
            try:
                return shared.take(key, limit)
            except OUT_OF_REACH as exc:
                shared.out_of_reach(exc)
    return take_locally(key, limit)


class SharedPlaces:
    """The running requests in one Redis, and whether it answered lately."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.down_until = 0.0
        self.unreturned: list[tuple[str, str]] = []  # places given back while Redis did not answer
        self.lock = threading.Lock()  # over unreturned, which the process's threads share

    @functools.cached_property
    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=SOCKET_SECONDS, socket_timeout=SOCKET_SECONDS)

    @functools.cached_property
    def take_place(self) -> Any:
        return self.client.register_script(TAKE_PLACE)

    def answering(self) -> bool:
        return time.monotonic() >= self.down_until

    def out_of_reach(self, exc: Exception) -> None:
        self.down_until = time.monotonic() + RETRY_SECONDS
        logger.warning("limits: Redis does not answer (%s); each process bounds its own for %ds", exc, RETRY_SECONDS)

    def take(self, key: str, limit: int) -> Slot:
        """Take a place if fewer than `limit` are held, as one step in Redis, by Redis's clock: of
        two taking the last place at once, whichever Redis runs first has it, whatever each
        machine's clock reads."""
        member = uuid.uuid4().hex
        with self.lock:
            unreturned, self.unreturned = self.unreturned, []
        with self.client.pipeline() as pipe:  # MULTI/EXEC
            for old_key, old_member in unreturned:
                pipe.zrem(old_key, old_member)
            self.take_place(keys=[key], args=[limit, member, SLOT_SECONDS], client=pipe)
            try:
                taken = pipe.execute()[-1]
            except OUT_OF_REACH:
                with self.lock:
                    self.unreturned += unreturned
                raise
        if not taken:
            raise TooMany(limit)
        return Slot(key, member, self)

    def give_back(self, key: str, member: str) -> None:
        try:
            self.client.zrem(key, member)
        except OUT_OF_REACH as exc:  # given back with the next place taken, or lapses
            with self.lock:
                self.unreturned.append((key, member))
            self.out_of_reach(exc)


@functools.cache
def shared_places(url: str) -> SharedPlaces:
    return SharedPlaces(url)


def local_cache() -> BaseCache:
    """The process's own memory: the default cache, or with Redis its in-process stand-in."""
    default = caches["default"]
    return default.fallback if isinstance(default, FallbackRedisCache) else default


def take_locally(key: str, limit: int) -> Slot:
    store = local_cache()
    store.add(key, 0, SLOT_SECONDS)
    try:
        running = store.incr(key)
    except ValueError:  # expired between add and incr
        store.add(key, 1, SLOT_SECONDS)
        running = 1
    store.touch(key, SLOT_SECONDS)
    if running > limit:
        store.decr(key)
        raise TooMany(limit)
    return Slot(key)
