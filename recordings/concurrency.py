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

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

from recordings.shared_cache import RETRY_SECONDS, SOCKET_SECONDS, FallbackRedisCache

logger = logging.getLogger(__name__)

SLOT_SECONDS = 3600


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
            except redis.RedisError as exc:
                shared.out_of_reach(exc)
    return take_locally(key, limit)


class SharedPlaces:
    """The running requests in one Redis, and whether it answered lately."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_connect_timeout=SOCKET_SECONDS, socket_timeout=SOCKET_SECONDS)
        self.down_until = 0.0
        self.unreturned: list[tuple[str, str]] = []  # places given back while Redis did not answer
        self.lock = threading.Lock()  # over unreturned, which the process's threads share

    def answering(self) -> bool:
        return time.monotonic() >= self.down_until

    def out_of_reach(self, exc: redis.RedisError) -> None:
        self.down_until = time.monotonic() + RETRY_SECONDS
        logger.warning("limits: Redis does not answer (%s); each process bounds its own for %ds", exc, RETRY_SECONDS)

    def take(self, key: str, limit: int) -> Slot:
        """Join the set, then keep the place only among the `limit` oldest: of two taking the last
        place at once, the first stays and the other leaves, as one atomic step each."""
        now = time.time()
        member = uuid.uuid4().hex
        with self.lock:
            unreturned, self.unreturned = self.unreturned, []
        with self.client.pipeline() as pipe:  # MULTI/EXEC
            for old_key, old_member in unreturned:
                pipe.zrem(old_key, old_member)
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zadd(key, {member: now + SLOT_SECONDS})
            pipe.zrank(key, member)
            pipe.expire(key, SLOT_SECONDS)
            try:
                rank = pipe.execute()[len(unreturned) + 2]
            except redis.RedisError:
                with self.lock:
                    self.unreturned += unreturned
                raise
        if rank >= limit:
            self.client.zrem(key, member)
            raise TooMany(limit)
        return Slot(key, member, self)

    def give_back(self, key: str, member: str) -> None:
        try:
            self.client.zrem(key, member)
        except redis.RedisError as exc:  # given back with the next place taken, or lapses
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
