"""How many long requests one user may have running at once: audio and ZIP streams, exact counts.

Counted in Django's cache, so with a cache the processes share (Redis, memcached) the bound holds
across them; with the default in-process cache it holds per process. A count left behind by a
process that died expires SLOT_SECONDS after its last use.
"""

from django.core.cache import cache

SLOT_SECONDS = 3600


class TooMany(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} at once")
        self.limit = limit


class Slot:
    """One running request's place; `release` gives it back (once, however often it is called)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            try:
                cache.decr(self.key)
            except ValueError:  # expired meanwhile: nothing left to give back
                pass


def acquire(kind: str, user_id: int, limit: int) -> Slot:
    """A place among the user's `limit` running requests of `kind`; TooMany when all are taken."""
    key = f"running:{kind}:{user_id}"
    cache.add(key, 0, SLOT_SECONDS)
    try:
        running = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, SLOT_SECONDS)
        running = 1
    cache.touch(key, SLOT_SECONDS)
    if running > limit:
        cache.decr(key)
        raise TooMany(limit)
    return Slot(key)
