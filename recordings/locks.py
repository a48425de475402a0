"""A named lock kept in the database, so processes on different machines sharing it see it.

A lock expires unless its holder refreshes it, so a crashed holder cannot block forever; one whose
holder was on this machine and is no longer alive is taken over at once.
"""

import os
import socket
import uuid
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from recordings.models import SyncLock

DEFAULT_TTL = timedelta(minutes=10)


class LockHeld(Exception):
    def __init__(self, lock):
        super().__init__(
            f"another sync is running ({lock.owner}, started {lock.acquired_at:%Y-%m-%d %H:%M:%S %Z}); "
            f"try again when it has finished"
        )
        self.lock = lock


class LockLost(Exception):
    pass


def owner_name():
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner):
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


class DatabaseLock:
    def __init__(self, name, ttl=DEFAULT_TTL):
        self.name = name
        self.ttl = ttl
        self.owner = owner_name()
        self.refreshed_at = None

    def acquire(self):
        now = timezone.now()
        try:
            with transaction.atomic():
                SyncLock.objects.create(name=self.name, owner=self.owner, acquired_at=now, expires_at=now + self.ttl)
        except IntegrityError:
            held = SyncLock.objects.filter(name=self.name).first()
            if held is None:
                return self.acquire()  # released between our insert and our look
            if held.expires_at > now and not owner_is_dead(held.owner):
                raise LockHeld(held) from None
            # Take over only the exact lock we judged stale, in case another process races us.
            taken = SyncLock.objects.filter(name=self.name, owner=held.owner, expires_at=held.expires_at).update(
                owner=self.owner, acquired_at=now, expires_at=now + self.ttl
            )
            if not taken:
                raise LockHeld(SyncLock.objects.get(name=self.name)) from None
        self.refreshed_at = now
        return self

    def refresh(self, every=timedelta(seconds=30)):
        now = timezone.now()
        if self.refreshed_at and now - self.refreshed_at < every:
            return
        if not SyncLock.objects.filter(name=self.name, owner=self.owner).update(expires_at=now + self.ttl):
            raise LockLost(f"the {self.name} lock expired and was taken over by another process")
        self.refreshed_at = now

    def release(self):
        SyncLock.objects.filter(name=self.name, owner=self.owner).delete()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
