"""Scheduled work without cron: syncs on a timer, the daily retention run, the daily checks of the
audit log's chain and of a sample of recordings' audio and the queue's repairs, handed to the task
queue; and, run here itself, every 2 seconds the sealing of new audit events into the log's chain
(a short UPDATE under the chain head's lock: as a task it would fill the queue) and every minute
the folding of the usage figures' change rows (recordings/usage_summary.py).

`manage.py run_scheduler` runs APScheduler's blocking scheduler (django-crontask, the usual choice
for Django's task framework, is a thin layer over the same scheduler but needs Python 3.12). It queues,
and seals audit events: the workers do the rest. Any number of schedulers may run, one per machine say: they share
a lock in the database, only its holder queues anything, and another takes over within
LOCK_TTL of it stopping. Queuing is safe even so: one sync of a kind waits in the queue at a time,
and one sync runs at a time (the sync's own lock).
"""

import logging
import signal
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, close_old_connections
from django.utils import timezone
from django_tasks import task_backends
from django_tasks_db import DatabaseBackend

from recordings.audit_trail import seal_pending
from recordings.background import tasks
from recordings.background.tasks import AlreadyQueued, queue_sync
from recordings.browsing.freshness import forget_old_changes
from recordings.locks import DatabaseLock, LockHeld, LockLost
from recordings.sync.status import lock_holder
from recordings.usage_summary import fold as fold_usage

logger = logging.getLogger(__name__)

LOCK_NAME = "scheduler"
LOCK_TTL = timedelta(minutes=2)
KEEP_LOCK_EVERY = timedelta(seconds=30)
RECOVER_EVERY = timedelta(minutes=1)
# How long an audit event waits to be chained, at most, while a scheduler runs.
SEAL_AUDIT_EVERY = timedelta(seconds=2)
# How long the usage page's figures keep the triggers' change rows, at most, before they are folded.
FOLD_USAGE_EVERY = timedelta(minutes=1)
# The weekly full walk, in TIME_ZONE: early on Sunday, when the account is quiet.
FULL_SYNC_WEEKLY = {"day_of_week": "sun", "hour": 3, "minute": 30}
PRUNE_DAILY = {"hour": 4, "minute": 15}
# The retention run is queued three times in its hour: each runs only the rules no earlier one ran
# today, so a worker lost half way costs twenty minutes, not a day.
RETENTION_MINUTES = "0,20,40"
# The audit log's chain walked (a task), and its head logged to be kept elsewhere: daily, after the pruning.
VERIFY_AUDIT_DAILY = {"hour": 4, "minute": 45}
# The daily sample of recordings fetched again and checked against their audio hash.
AUDIO_CHECK_DAILY = {"hour": 5, "minute": 15}
# What the scheduler runs: no arguments, called for what it does.
Job = Callable[[], None]


def queue_scheduled_sync(*, full: bool) -> None:
    """Queue a sync unless one is running or waiting already: that one brings the copy up to date."""
    if lock_holder():
        return
    try:
        queue_sync(full=full)
    except AlreadyQueued:
        pass


def prune_queue() -> None:
    """The database queue keeps every task it ran: drop those finished over 14 days ago (the runs'
    own records, on /sync/, stay)."""
    call_command("prune_db_task_results", verbosity=0)


class Schedule:
    """The jobs, and whether this scheduler is the one that runs them."""

    def __init__(self, *, sync_every_minutes: int) -> None:
        self.sync_every_minutes = sync_every_minutes
        self.lock = DatabaseLock(LOCK_NAME, ttl=LOCK_TTL)
        self.active = False

    def jobs(self) -> dict[str, tuple[Job, BaseTrigger, datetime | None]]:
        """Each job by name: (function, trigger, first run or None to wait for the trigger)."""
        now = timezone.now()
        jobs: dict[str, tuple[Job, BaseTrigger, datetime | None]] = {
            "keep_lock": (self.keep_lock, IntervalTrigger(seconds=KEEP_LOCK_EVERY.total_seconds()), now),
            "recover": (self.when_active(tasks.recover), IntervalTrigger(seconds=RECOVER_EVERY.total_seconds()), now),
            "full_sync": (self.when_active(queue_scheduled_sync, full=True), CronTrigger(**FULL_SYNC_WEEKLY), None),
            "forget_changes": (self.when_active(forget_old_changes), CronTrigger(**PRUNE_DAILY), None),
            "retention": (
                self.when_active(tasks.queue_retention),
                CronTrigger(hour=settings.RETENTION_HOUR, minute=RETENTION_MINUTES),
                None,
            ),
            "seal_audit": (
                self.when_active(seal_pending),
                IntervalTrigger(seconds=SEAL_AUDIT_EVERY.total_seconds()),
                now,
            ),
            "fold_usage": (
                self.when_active(fold_usage),
                IntervalTrigger(seconds=FOLD_USAGE_EVERY.total_seconds()),
                now,
            ),
            "verify_audit": (self.when_active(tasks.queue_audit_check), CronTrigger(**VERIFY_AUDIT_DAILY), None),
            "audio_check": (self.when_active(tasks.queue_audio_check), CronTrigger(**AUDIO_CHECK_DAILY), None),
        }
        if isinstance(task_backends["default"], DatabaseBackend):
            jobs["prune_queue"] = (self.when_active(prune_queue), CronTrigger(**PRUNE_DAILY), None)
        if self.sync_every_minutes > 0:
            incremental = self.when_active(queue_scheduled_sync, full=False)
            jobs["incremental_sync"] = (incremental, IntervalTrigger(minutes=self.sync_every_minutes), now)
        return jobs

    def keep_lock(self) -> None:
        try:
            if self.active:
                self.lock.refresh(every=timedelta(0))
            else:
                self.lock.acquire()
                self.active = True
                logger.info("this scheduler queues the scheduled work (%s)", self.lock.owner)
        except (LockHeld, LockLost):
            if self.active:
                logger.warning("another scheduler took over the scheduled work")
            self.active = False
        except DatabaseError as exc:
            logger.error("the scheduler lock could not be kept: %s", exc)

    def when_active(self, function: Callable[..., object], **arguments: bool) -> Job:
        def job() -> None:
            if not self.active:
                return
            try:
                function(**arguments)
            except DatabaseError as exc:  # the database is away for a moment: the next run tries again
                logger.error("%s did not run: %s", getattr(function, "__name__", function), exc)

        return job

    def release(self) -> None:
        if self.active:
            self.lock.release()
            self.active = False


def with_fresh_connection(function: Job) -> Job:
    """Jobs run on the scheduler's threads, each with its own connection: drop it when it went stale."""

    def job() -> None:
        close_old_connections()
        try:
            function()
        finally:
            close_old_connections()

    return job


def run(*, sync_every_minutes: int) -> None:
    """Run the schedule until the process is stopped (SIGINT or SIGTERM)."""
    schedule = Schedule(sync_every_minutes=sync_every_minutes)
    scheduler = BlockingScheduler(
        timezone=settings.TIME_ZONE, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
    )
    for name, (function, trigger, first_run) in schedule.jobs().items():
        scheduler.add_job(with_fresh_connection(function), trigger, id=name, name=name, next_run_time=first_run)
    schedule.keep_lock()  # before the first jobs run, so they see whether they are to act

    def stop(signum: int, frame: FrameType | None) -> None:
        # Not an exception raised wherever the main thread is: the scheduler's loop ends by itself.
        if not scheduler.running:
            raise SystemExit(0)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        scheduler.start()
    finally:
        schedule.release()
