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

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django_tasks import task
from django_tasks.base import Task

from recordings.audit_trail import Action, Actor, record_for
from recordings.auditing import deletion
from recordings.auditing.integrity import check_audit_log
from recordings.browsing.call_records import call_detail
from recordings.formatting import one_line
from recordings.live.store import fetch_recording
from recordings.locks import DatabaseLock, LockHeld, live_holder, owner_name
from recordings.models import AuditEvent, DeletionBatch, Recording, TaskRun
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


@task()
@tracked
def check_audit() -> None:
    """`verify_audit`: the audit log sealed and its chain walked; a break fails the run, for /sync/ to show."""
    check = check_audit_log()
    if not check.ok:
        raise AuditLogBroken(check.problem)


class AuditLogBroken(Exception):
    pass


# By TaskRun.kind, which the database gives back as a plain string.
TASKS: dict[str, Task[..., None]] = {
    Kind.SYNC: sync,
    Kind.FULL_SYNC: sync,
    Kind.DELETION: process_deletion,
    Kind.CALL_RECORD: refresh_call_record,
    Kind.RECORDING_FETCH: refetch_recording,
    Kind.RETENTION: apply_retention,
    Kind.AUDIO_CHECK: check_audio,
    Kind.AUDIT_CHECK: check_audit,
}
ARGUMENTS: dict[str, dict[str, object]] = {Kind.SYNC: {"full": False}, Kind.FULL_SYNC: {"full": True}}


def queue(kind: str, *, requested_by: User | None = None, **arguments: object) -> TaskRun:
    """Record the work and hand it to the queue; AlreadyQueued when the same work waits already (a
    sync of that kind, a refresh of that call's record: the database's constraints say which).

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
        waiting = waiting_run(kind, arguments)
        if waiting is None:  # it started between our insert and our look: queue again
            return queue(kind, requested_by=requested_by, **arguments)
        raise AlreadyQueued(waiting) from None
    return send(run)


def waiting_run(kind: str, arguments: dict[str, object]) -> TaskRun | None:
    """The run of this work that waits in the queue, if one does."""
    same = {f"arguments__{name}": value for name, value in arguments.items()}
    return TaskRun.objects.filter(kind=kind, status=Status.QUEUED, **same).first()


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


def queue_audit_check() -> TaskRun:
    """The daily check of the audit log's chain, run by a worker so that /sync/ shows it."""
    return queue(Kind.AUDIT_CHECK)


def queue_deletion(batch: DeletionBatch, *, requested_by: User | None = None) -> TaskRun:
    return queue(Kind.DELETION, requested_by=requested_by, batch_id=batch.pk)


def queue_call_record_refresh(call_uuid: str, *, requested_by: User | None) -> TaskRun:
    return queue(Kind.CALL_RECORD, requested_by=requested_by, call_uuid=call_uuid)


class TooManyRefreshes(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"You have asked for call records again {limit} time{pluralize(limit)} in the last hour, the most"
            " one user may: try again later."
        )


class UnknownCall(Exception):
    def __init__(self, call_uuid: str) -> None:
        super().__init__(f"No recording of call {call_uuid} is known here: its record is not fetched.")


class RefreshBusy(Exception):
    def __init__(self) -> None:
        super().__init__("Another of your requests for a call record is being handled: try again in a moment.")


REFUSED_OVER_LIMIT = "refused: over the hourly limit"
# How long one user's refresh request holds their lock at most, should its process die holding it.
REFRESH_LOCK_TTL = timedelta(seconds=30)


def request_call_record_refresh(*, actor: Actor, call_uuid: str) -> TaskRun:
    """A call's record asked for again from Vobiz, logged. UnknownCall, logged, for a call the
    dashboard has no recording of (nothing queued); AlreadyQueued when a refresh of it waits
    (logged too: the asking is what is counted); TooManyRefreshes past the user's hourly limit,
    of which the first refusal in an hour is logged, so that pressing on does not fill the log.

    One request of a user at a time (a lock of theirs, RefreshBusy while another holds it), so that
    concurrent requests cannot all pass the count before any is logged."""
    try:
        lock = DatabaseLock(f"call-record-refresh:{actor.user.pk if actor.user else '-'}", ttl=REFRESH_LOCK_TTL)
        lock.acquire()
    except LockHeld:
        raise RefreshBusy() from None
    try:
        return refresh_under_lock(actor=actor, call_uuid=call_uuid)
    finally:
        lock.release()


def refresh_under_lock(*, actor: Actor, call_uuid: str) -> TaskRun:
    limit = settings.CALL_RECORD_REFRESHES_PER_HOUR
    asked = AuditEvent.objects.filter(
        user=actor.user, action=Action.CALL_RECORD, at__gte=timezone.now() - timedelta(hours=1)
    )
    if asked.count() >= limit:
        if not asked.filter(note=REFUSED_OVER_LIMIT).exists():
            record_for(actor, Action.CALL_RECORD, call_uuid=call_uuid, note=REFUSED_OVER_LIMIT)
        raise TooManyRefreshes(limit)
    if not Recording.objects.filter(call_uuid=call_uuid).exists():
        record_for(actor, Action.CALL_RECORD, call_uuid=call_uuid, note="refused: no recording of this call")
        raise UnknownCall(call_uuid)
    try:
        run = queue_call_record_refresh(call_uuid, requested_by=actor.user)
    except AlreadyQueued:
        record_for(actor, Action.CALL_RECORD, call_uuid=call_uuid, note="a refresh was queued already: not again")
        raise
    record_for(actor, Action.CALL_RECORD, call_uuid=call_uuid)
    return run


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
            waiting = waiting_run(run.kind, run.arguments)
            if waiting is None:  # it started between our update and our look: queue it again
                return retry(run, requested_by=requested_by)
            raise AlreadyQueued(waiting) from None
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


ACTIVE = (Status.UNQUEUED, Status.QUEUED, Status.RUNNING)
SYNC_KINDS = (Kind.SYNC, Kind.FULL_SYNC)


def queue_rows(limit: int = 20, kept_failures: int = 50) -> list[QueueRow]:
    """What /sync/ shows of the queue, newest first: everything queued or running, the latest
    `limit` that ended and, however many small tasks ended since, the last sync of each kind, every
    failed sync and deletion that nothing took the place of yet, with its Retry, and of the other
    failed runs (a call's record, a recording's fetch, ...) up to `kept_failures`, one per call."""
    now = timezone.now()
    active = TaskRun.objects.filter(status__in=ACTIVE)
    latest = TaskRun.objects.exclude(status__in=ACTIVE)[:limit]
    last_syncs = [TaskRun.objects.filter(kind=kind).exclude(status__in=ACTIVE)[:1] for kind in SYNC_KINDS]
    failures = unresolved_failures()
    kept = failures.filter(kind__in=KEPT_FAILURES)  # never capped: each is work left undone
    # A call's record failed again and again shows once: its latest failure.
    later_of_call = TaskRun.objects.filter(
        kind=Kind.CALL_RECORD,
        status=Status.FAILED,
        arguments__call_uuid=OuterRef("arguments__call_uuid"),
        queued_at__gt=OuterRef("queued_at"),
    )
    others = failures.exclude(kind__in=KEPT_FAILURES).exclude(Q(kind=Kind.CALL_RECORD) & Exists(later_of_call))[
        :kept_failures
    ]
    found: dict[int, TaskRun] = {}
    for query in (active, latest, *last_syncs, kept, others):
        found.update((run.pk, run) for run in query.select_related("requested_by"))
    runs = sorted(found.values(), key=lambda run: (run.queued_at, run.pk), reverse=True)
    return [
        QueueRow(
            run=run,
            stalled=is_stalled(run, now),
            waiting=waiting_for_worker(run, now),
            retryable=can_retry(run),
        )
        for run in runs
    ]


KEPT_FAILURES = (*SYNC_KINDS, Kind.DELETION)
# Work that is the same whatever its arguments: a later run of it that did not fail replaces a failed one.
SAME_WORK_KINDS = (*SYNC_KINDS, Kind.RETENTION, Kind.AUDIO_CHECK, Kind.AUDIT_CHECK)


def unresolved_failures() -> QuerySet[TaskRun]:
    """Failed runs, newest first, that neither a retry nor a later run of the same work (another
    sync, retention run, audio or audit log check, the same deletion batch, call's record or recording's
    fetch) that did not fail has replaced."""
    replaced = (
        TaskRun.objects.filter(kind=OuterRef("kind"), queued_at__gt=OuterRef("queued_at"))
        .exclude(status=Status.FAILED)
        .filter(
            Q(kind__in=SAME_WORK_KINDS)
            | Q(arguments__batch_id=OuterRef("arguments__batch_id"))
            | Q(arguments__call_uuid=OuterRef("arguments__call_uuid"))
            | Q(arguments__recording_id=OuterRef("arguments__recording_id"))
        )
    )
    return TaskRun.objects.filter(status=Status.FAILED, retries__isnull=True).exclude(Exists(replaced))
