"""A named lock kept in the database, so processes on different machines sharing it see it.

A lock expires unless its holder refreshes it, so a crashed holder cannot block forever; one whose
holder was on this machine and is no longer alive is taken over at once.
"""

import os
import socket
import uuid
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from recordings.models import Lock

DEFAULT_TTL = timedelta(minutes=10)


class LockHeld(Exception):
    def __init__(self, lock: Lock) -> None:
        super().__init__(
            f"another sync is running ({lock.owner}, started {lock.acquired_at:%Y-%m-%d %H:%M:%S %Z}); "
            f"try again when it has finished"
        )
        self.lock = lock


class LockLost(Exception):
    pass


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
    """True when `owner` names a process on this machine that no longer exists."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def live_holder(name: str, *, now: datetime | None = None) -> Lock | None:
    """The lock `name` while a live process holds it: unexpired (at `now`), and not left by a process
    of this machine that has died. None when it is free, or would be taken over by the next to ask."""
    now = now or timezone.now()
    lock = Lock.objects.filter(name=name, expires_at__gt=now).first()
    return lock if lock is not None and is_live(lock, now) else None


def is_live(lock: Lock, now: datetime) -> bool:
    """Whether the holder of `lock` still holds it: the one judgement of a lock's life."""
    return lock.expires_at > now and not owner_is_dead(lock.owner)


class DatabaseLock:
    def __init__(self, name: str, ttl: timedelta = DEFAULT_TTL) -> None:
        self.name = name
        self.ttl = ttl
        self.owner = owner_name()
        self.refreshed_at: datetime | None = None

    def acquire(self) -> "DatabaseLock":
        now = timezone.now()
        try:
            with transaction.atomic():
                Lock.objects.create(name=self.name, owner=self.owner, acquired_at=now, expires_at=now + self.ttl)
        except IntegrityError:
            held = Lock.objects.filter(name=self.name).first()
            if held is None:
                return self.acquire()  # released between our insert and our look
            if is_live(held, now):
                raise LockHeld(held) from None
            # Take over only the exact lock we judged stale, in case another process races us.
            taken = Lock.objects.filter(name=self.name, owner=held.owner, expires_at=held.expires_at).update(
                owner=self.owner, acquired_at=now, expires_at=now + self.ttl
            )
            if not taken:
                raise LockHeld(Lock.objects.get(name=self.name)) from None
        self.refreshed_at = now
        return self

    def refresh(self, every: timedelta = timedelta(seconds=30)) -> None:
        now = timezone.now()
        if self.refreshed_at and now - self.refreshed_at < every:
            return
        if not Lock.objects.filter(name=self.name, owner=self.owner).update(expires_at=now + self.ttl):
            raise LockLost(f"the {self.name} lock expired and was taken over by another process")
        self.refreshed_at = now

    def release(self) -> None:
        Lock.objects.filter(name=self.name, owner=self.owner).delete()

    def __enter__(self) -> "DatabaseLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
