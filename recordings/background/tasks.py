"""Work that outlives a request, as tasks of Django's task framework (the django-tasks backport).

A view records what was asked and calls `queue`: a TaskRun row is written, then the task is handed
to the queue (the database's, run by `manage.py db_worker`, or with REDIS_URL set Redis's, run by
RQ's workers on any number of machines). The task keeps its TaskRun up to date as it starts and
ends, so /sync/ shows the queue the same way whichever carries it. Work the queue refused (Redis
down) stays as a TaskRun that is not queued, for `recover` or a retry to queue again.

A task is given ids, never objects, since it may run on another machine, and reads the rest from
the database, where its progress is kept too (a SyncRun, a deletion batch's outcomes).
"""

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task
from django_tasks.base import Task

from recordings.audit_trail import Action, Actor, record_for
from recordings.auditing import deletion
from recordings.browsing.call_records import call_detail
from recordings.formatting import one_line
from recordings.live.store import fetch_recording
from recordings.locks import live_holder, owner_name
from recordings.models import DeletionBatch, TaskRun
from recordings.retention import runs as retention_runs
from recordings.sync.run import LOCK_NAME as SYNC_LOCK_NAME
from recordings.sync.run import sync_recordings
from recordings.sync.status import lock_holder
from recordings.sync.walk import SyncOptions

logger = logging.getLogger(__name__)

Kind = TaskRun.Kind
Status = TaskRun.Status
# A queued run no worker has taken after this long is shown as waiting for one.
WAITING_FOR_WORKER = timedelta(seconds=30)
# A run marked running this long whose lock is gone (or held by a dead process) lost its worker.
STALLED_AFTER = timedelta(seconds=10)
SHORT_WORK_STALLED_AFTER = timedelta(minutes=5)
# Recordings whose audio the daily check fetches whole again: a few minutes of a worker's time.
AUDIO_CHECK_SAMPLE = 50


class Skipped(Exception):
    """The work had nothing to do: another process was doing it already."""


class AlreadyQueued(Exception):
    def __init__(self, run: TaskRun) -> None:
        super().__init__(f"{run.get_kind_display()} already queued, since {run.queued_at:%H:%M:%S %Z}")
        self.run = run


def tracked(work: Callable[..., None]) -> Callable[..., None]:
    """Keep the TaskRun named by `task_run_id` true to what the work does: running, then its end."""

    @functools.wraps(work)
    def run(*, task_run_id: int, **arguments: object) -> None:
        runs = TaskRun.objects.filter(pk=task_run_id)
        runs.update(status=Status.RUNNING, started_at=timezone.now(), finished_at=None, error="", worker=owner_name())
        try:
            work(**arguments)
        except Skipped as exc:
            runs.update(status=Status.SKIPPED, finished_at=timezone.now(), error=str(exc))
        except BaseException as exc:  # a worker stopping it (SIGTERM, Ctrl-C) too: the run must say so
            runs.update(status=Status.FAILED, finished_at=timezone.now(), error=one_line(exc))
            raise
        else:
            runs.update(status=Status.SUCCEEDED, finished_at=timezone.now())

    return run


@task()
@tracked
def sync(*, full: bool = False) -> None:
    """One sync; its SyncRun records what it did."""
    holder = lock_holder()
    if holder:
        raise Skipped(f"another sync was running ({holder})")
    sync_recordings(SyncOptions(full=full))


@task()
@tracked
def process_deletion(*, batch_id: int) -> None:
    if not deletion.process_batch(batch_id):
        raise Skipped("another worker is working through this batch")


@task()
@tracked
def refresh_call_record(*, call_uuid: str) -> None:
    """Fetch a call's CDR again: Vobiz may take longer to answer than a page should wait."""
    result = call_detail(call_uuid, refresh=True)
    if result.problem:
        raise CallRecordNotFetched(result.problem)


class CallRecordNotFetched(Exception):
    pass


@task()
@tracked
def refetch_recording(*, recording_id: str) -> None:
    """Once more, a callback's recording whose fetch gave up (Retry on /sync/): one try, whose
    failure is shown for another Retry."""
    outcome = fetch_recording(recording_id)  # VobizError says why Vobiz did not give it
    if outcome != "stored":
        raise RecordingNotFetched(f"Vobiz's object for recording {recording_id} is unusable: nothing stored")


class RecordingNotFetched(Exception):
    pass


@task()
@tracked
def apply_retention() -> None:
    """Today's run of the retention rules: it writes deletion batches and queues each."""
    try:
        day = retention_runs.run_due_rules()
    except retention_runs.RetentionPaused as exc:
        raise Skipped(str(exc)) from None
    for batch in day.batches:
        queue_deletion(batch)


@task()
@tracked
def check_audio(*, sample: int) -> None:
    """`verify_audio --sample`: recordings drawn at random fetched whole again and compared with
    their hash, so that audio nobody plays whole is hashed and checked too. A change (logged by the
    check) or a recording that could not be checked fails the run, for /sync/ to show."""
    call_command("verify_audio", sample=sample)


# By TaskRun.kind, which the database gives back as a plain string.
TASKS: dict[str, Task[..., None]] = {
    Kind.SYNC: sync,
    Kind.FULL_SYNC: sync,
    Kind.DELETION: process_deletion,
    Kind.CALL_RECORD: refresh_call_record,
    Kind.RECORDING_FETCH: refetch_recording,
    Kind.RETENTION: apply_retention,
    Kind.AUDIO_CHECK: check_audio,
}
ARGUMENTS: dict[str, dict[str, object]] = {Kind.SYNC: {"full": False}, Kind.FULL_SYNC: {"full": True}}


def queue(kind: str, *, requested_by: User | None = None, **arguments: object) -> TaskRun:
    """Record the work and hand it to the queue; AlreadyQueued when a sync of that kind waits already.

    The returned run is not queued (`status` says so, `error` says why) when the queue refused it.
    """
    try:
        with transaction.atomic():
            run = TaskRun.objects.create(
                kind=kind,
                arguments={**ARGUMENTS.get(kind, {}), **arguments},
                requested_by=requested_by,
                queued_at=timezone.now(),
            )
    except IntegrityError:
        waiting = TaskRun.objects.filter(kind=kind, status=Status.QUEUED).first()
        if waiting is None:  # it started between our insert and our look: queue again
            return queue(kind, requested_by=requested_by, **arguments)
        raise AlreadyQueued(waiting) from None
    return send(run)


def queue_sync(*, requested_by: User | None = None, full: bool = False) -> TaskRun:
    return queue(Kind.FULL_SYNC if full else Kind.SYNC, requested_by=requested_by)


def request_sync(*, actor: Actor) -> TaskRun:
    """A sync someone asked for, queued and logged (a scheduled one is not); AlreadyQueued when one waits."""
    run = queue_sync(requested_by=actor.user)
    record_for(actor, Action.SYNC)
    return run


def queue_retention() -> TaskRun | None:
    """Queue today's retention run, unless one waits already."""
    try:
        return queue(Kind.RETENTION)
    except AlreadyQueued:
        return None


def queue_audio_check() -> TaskRun:
    """Queue today's check of a sample of recordings' audio."""
    return queue(Kind.AUDIO_CHECK, sample=AUDIO_CHECK_SAMPLE)


def queue_deletion(batch: DeletionBatch, *, requested_by: User | None = None) -> TaskRun:
    return queue(Kind.DELETION, requested_by=requested_by, batch_id=batch.pk)


def queue_call_record_refresh(call_uuid: str, *, requested_by: User | None) -> TaskRun:
    return queue(Kind.CALL_RECORD, requested_by=requested_by, call_uuid=call_uuid)


def call_record_refresh(call_uuid: str) -> TaskRun | None:
    """The latest refresh of a call's record while it waits or runs, or if it failed."""
    latest = TaskRun.objects.filter(kind=Kind.CALL_RECORD, arguments__call_uuid=call_uuid).first()
    if latest is None or latest.status in (Status.SUCCEEDED, Status.SKIPPED) or is_stalled(latest):
        return None
    return latest


def send(run: TaskRun) -> TaskRun:
    try:
        result = TASKS[run.kind].enqueue(task_run_id=run.pk, **run.arguments)
    except Exception as exc:  # the queue is down (Redis unreachable, say): keep the run to queue it later
        logger.error("%s not queued: %s", run, one_line(exc))
        TaskRun.objects.filter(pk=run.pk, status=Status.QUEUED).update(
            status=Status.UNQUEUED, error=f"the queue could not take it: {one_line(exc)}"
        )
    else:
        # Only the id: a task the queue ran at once (the test settings do) has already set the rest.
        TaskRun.objects.filter(pk=run.pk).update(task_id=result.id)
    run.refresh_from_db()
    return run


def retry(run: TaskRun, *, requested_by: User | None) -> TaskRun:
    """Queue again work that could not be queued, failed, or lost its worker."""
    if run.status == Status.UNQUEUED:
        try:
            with transaction.atomic():
                TaskRun.objects.filter(pk=run.pk, status=Status.UNQUEUED).update(status=Status.QUEUED, error="")
        except IntegrityError:
            raise AlreadyQueued(TaskRun.objects.get(kind=run.kind, status=Status.QUEUED)) from None
        return send(run)
    again = queue(run.kind, requested_by=requested_by, **run.arguments)
    TaskRun.objects.filter(pk=again.pk).update(retry_of=run)
    return again


def can_retry(run: TaskRun) -> bool:
    return run.status in (Status.UNQUEUED, Status.FAILED) or is_stalled(run)


def lock_name(run: TaskRun) -> str | None:
    """The lock a run works under, which shows whether its worker is alive; None for short work."""
    if run.kind == Kind.DELETION:
        return deletion.lock_name(run.arguments.get("batch_id"))
    if run.kind in (Kind.SYNC, Kind.FULL_SYNC):
        return SYNC_LOCK_NAME
    return None


def is_stalled(run: TaskRun, now: datetime | None = None) -> bool:
    """A run still marked running whose worker has stopped: the lock it works under is gone (short
    work, which takes no lock, once it has run for longer than any request to Vobiz can take)."""
    now = now or timezone.now()
    if run.status != Status.RUNNING or run.started_at is None or now - run.started_at < STALLED_AFTER:
        return False
    name = lock_name(run)
    if name is None:
        return now - run.started_at > SHORT_WORK_STALLED_AFTER
    return live_holder(name, now=now) is None


def waiting_for_worker(run: TaskRun, now: datetime | None = None) -> timedelta | None:
    """How long a queued run has waited for a worker to take it, once that is longer than expected."""
    waited = (now or timezone.now()) - run.queued_at
    return waited if run.status == Status.QUEUED and waited >= WAITING_FOR_WORKER else None


def recover() -> None:
    """Put right what a stopped worker or a refusing queue left: run by the scheduler every minute.

    A run whose worker died is marked failed; an unfinished deletion batch no worker holds is queued
    again, to resume where it stopped; work the queue refused is offered to it again.
    """
    now = timezone.now()
    for run in TaskRun.objects.filter(status=Status.RUNNING):
        if is_stalled(run, now):
            TaskRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(
                status=Status.FAILED, finished_at=now, error="its worker stopped before it finished"
            )
    busy = set(
        TaskRun.objects.filter(
            kind=Kind.DELETION, status__in=[Status.UNQUEUED, Status.QUEUED, Status.RUNNING]
        ).values_list("arguments__batch_id", flat=True)
    )
    for batch in deletion.unfinished_batches().exclude(pk__in=busy):
        if not deletion.is_being_processed(batch):
            queue_deletion(batch)
    for run in TaskRun.objects.filter(status=Status.UNQUEUED):
        try:
            retry(run, requested_by=run.requested_by)
        except AlreadyQueued:
            TaskRun.objects.filter(pk=run.pk).update(status=Status.SKIPPED, error="a later one was queued instead")


@dataclass
class QueueRow:
    run: TaskRun
    stalled: bool  # marked running, but its worker has stopped
    waiting: timedelta | None  # queued and not taken by a worker for this long
    retryable: bool


def queue_rows(limit: int = 20) -> list[QueueRow]:
    """What /sync/ shows of the queue: everything queued or running, and the latest that ended."""
    now = timezone.now()
    active = TaskRun.objects.filter(status__in=[Status.UNQUEUED, Status.QUEUED, Status.RUNNING])
    latest = TaskRun.objects.exclude(pk__in=active.values("pk"))[:limit]
    runs = [*active.select_related("requested_by"), *latest.select_related("requested_by")]
    return [
        QueueRow(
            run=run,
            stalled=is_stalled(run, now),
            waiting=waiting_for_worker(run, now),
            retryable=can_retry(run),
        )
        for run in runs
    ]
