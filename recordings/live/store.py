"""A recording callback's recording, fetched from the API by id and stored.

A recording callback's body is not signed, so it only names a recording: `fetch_recording` asks
the API for it by id and stores the API's object through the sync's normaliser and writer. It runs
off the request, as background work; Vobiz retries callbacks and the sync may have the row
already, so storing is an upsert and running it twice changes nothing.

Vobiz's API may not know a recording yet when its callback comes, and may be down: a fetch that
meets "not found", 429, 5xx or no answer is tried again, through the queue's own delayed work
(`run_after`), not by sleeping in a worker, for CALLBACK_FETCH_PATIENCE_MINUTES. Then it is given
up and shown as failed on /sync/ with a Retry button; when Vobiz still had no such recording, the
transcript a callback brought for it goes too.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_tasks import task
from django_tasks_db import DatabaseBackend

from recordings.browsing.freshness import data_changed
from recordings.formatting import hours_minutes, one_line
from recordings.locks import owner_name
from recordings.models import PendingFetch, Recording, TaskRun, Transcript
from recordings.sync.normalise import UnusableRecording, normalise
from recordings.sync.store import store_recordings
from recordings.vobiz_account import client_from_settings
from vobiz.client import ONE_TRY, VobizError, VobizNotFound, VobizUnavailable

logger = logging.getLogger(__name__)

# The next try comes after a quarter of the time waited so far, so that a recording appears within
# a quarter of Vobiz's lag after its API knows it: every second for the first 5 s, then each wait a
# quarter longer (tries at 6.2 s, 7.8 s, 9.8 s, 12.2 s, ...), from 4 minutes on once a minute: 80
# requests in an hour. A Retry-After asks for longer, never shorter. No jitter: callbacks come
# spread out already, and their schedules with them.
FIRST_DELAY = 1.0  # seconds
DELAY_SHARE = 0.25
LONGEST_DELAY = 60.0
# A pending chain this much older than the patience was lost (its worker or queue with it): a
# callback may start another.
CHAIN_LOST_AFTER = timedelta(minutes=10)


def queue_recording_fetch(recording_id: str) -> None:
    """Hand the fetch to a worker, unless the recording's chain of tries is queued or running
    already: that one stores it. The database queue takes it in the caller's transaction, so that
    both commit at once, and fails with it (DatabaseError); another queue is asked once that
    transaction has committed, so that it never holds the transaction open, and one that refuses
    it (Redis down) loses nothing for good: the next sync stores the recording."""
    if not take_chain(recording_id):
        return
    if isinstance(fetch_recording_task.get_backend(), DatabaseBackend):
        fetch_recording_task.enqueue(recording_id=recording_id)
    else:
        transaction.on_commit(lambda: enqueue_fetch(recording_id))


def take_chain(recording_id: str) -> bool:
    """Whether the caller starts the recording's chain of tries: none is pending, or the pending one
    began longer ago than any chain lasts (its worker or queue lost it)."""
    now = timezone.now()
    try:
        with transaction.atomic():  # an insert, nothing read first: the callback's answer waits on it
            PendingFetch.objects.create(recording_id=recording_id, started_at=now)
        return True
    except IntegrityError:
        pass
    lost_before = now - timedelta(minutes=settings.CALLBACK_FETCH_PATIENCE_MINUTES) - CHAIN_LOST_AFTER
    return PendingFetch.objects.filter(pk=recording_id, started_at__lt=lost_before).update(started_at=now) == 1


def end_chain(recording_id: str) -> None:
    PendingFetch.objects.filter(pk=recording_id).delete()


def enqueue_fetch(recording_id: str) -> None:
    try:
        fetch_recording_task.enqueue(recording_id=recording_id)
    except Exception as exc:  # whatever the queue raises; the callback is answered all the same
        end_chain(recording_id)
        not_queued(recording_id, exc)


def not_queued(recording_id: str, exc: Exception) -> None:
    logger.warning("callback for recording %s: fetch not queued (%s); the next sync picks it up", recording_id, exc)


@task()
def fetch_recording_task(*, recording_id: str, since: float | None = None, tries: int = 0) -> str:
    """One try at a callback's recording, and the next one queued if Vobiz may have it later; the
    recording's chain ends (and a later callback may start another) when no next one is.

    `since`: when the first try began (a POSIX timestamp), which the patience counts from;
    `tries`: how many came before this one."""
    first = datetime.fromtimestamp(since, UTC) if since is not None else timezone.now()
    continues = False
    try:
        try:
            if tries and Recording.objects.filter(recording_id=recording_id).exists():
                return "stored meanwhile"  # by a sync
            return fetch_recording(recording_id)
        except (VobizError, DatabaseError) as exc:
            if not may_come_later(exc):
                return give_up(recording_id, exc, first=first, tries=tries + 1)
            run_after = next_try(exc, first=first, now=timezone.now())  # after the try, which may have timed out
            if run_after is None or not fetch_recording_task.get_backend().supports_defer:
                return give_up(recording_id, exc, first=first, tries=tries + 1)
            try:
                fetch_recording_task.using(run_after=run_after).enqueue(
                    recording_id=recording_id, since=first.timestamp(), tries=tries + 1
                )
            except Exception as queue_error:  # whatever the queue raises (Redis down): shown for a Retry
                return give_up(recording_id, queue_error, first=first, tries=tries + 1)
            continues = True
            logger.info("callback for recording %s: %s; tried again at %s", recording_id, exc, run_after.isoformat())
            return f"tried again at {run_after.isoformat()}"
    finally:
        if not continues:
            end_chain(recording_id)


def may_come_later(exc: Exception) -> bool:
    """Whether Vobiz may answer with the recording later: it did not know it yet, or did not answer;
    or the database could not take it this time (busy, or away for a moment)."""
    if isinstance(exc, DatabaseError | VobizNotFound | VobizUnavailable):
        return True
    return isinstance(exc, VobizError) and (exc.status == 429 or (exc.status or 0) >= 500)


def next_try(exc: Exception, *, first: datetime, now: datetime) -> datetime | None:
    """When to try again, or None when the patience has run out. A Retry-After asks for longer,
    however long: the patience still ends the chain."""
    deadline = first + timedelta(minutes=settings.CALLBACK_FETCH_PATIENCE_MINUTES)
    if now >= deadline:
        return None
    waited = (now - first).total_seconds()
    delay = min(LONGEST_DELAY, max(FIRST_DELAY, waited * DELAY_SHARE))
    if isinstance(exc, VobizUnavailable) and exc.retry_after is not None:
        delay = max(delay, exc.retry_after)
    return min(now + timedelta(seconds=delay), deadline)


def give_up(recording_id: str, exc: Exception, *, first: datetime, tries: int) -> str:
    """The fetch is final: shown as failed on /sync/ (its Retry tries once more); a transcript
    for a recording Vobiz still has not is deleted, as nothing will ever show it."""
    not_found = isinstance(exc, VobizNotFound)
    with transaction.atomic():
        dropped = False
        if not_found:
            # The recording's absence is checked in the delete's own query: a sync may store it meanwhile.
            orphan = Transcript.objects.filter(recording_id=recording_id).exclude(
                Exists(Recording.objects.filter(recording_id=OuterRef("recording_id")))
            )
            dropped = orphan.delete()[0] > 0
            if dropped:
                data_changed()  # the transcript leaves searches and counts
        waited = hours_minutes(int((timezone.now() - first).total_seconds() * 1000))
        what = "Vobiz's API had no such recording" if not_found else one_line(exc)
        error = f"{what} after {tries} tr{'ies' if tries > 1 else 'y'} over {waited}: not stored"
        if dropped:
            error += "; the transcript a callback brought for it was deleted"
        now = timezone.now()
        TaskRun.objects.create(
            kind=TaskRun.Kind.RECORDING_FETCH,
            arguments={"recording_id": recording_id},
            status=TaskRun.Status.FAILED,
            queued_at=first,
            started_at=now,
            finished_at=now,
            worker=owner_name(),
            error=error,
        )
    logger.warning("callback for recording %s: given up: %s", recording_id, error)
    return "not found" if not_found else "failed"


def fetch_recording(recording_id: str) -> str:
    """Fetches one recording from Vobiz, in one try, and stores it; returns what happened, in
    words, or raises VobizError (VobizNotFound when Vobiz has no such recording, yet)."""
    with client_from_settings(ONE_TRY) as client:
        obj = client.get_recording(recording_id)
    try:
        fields = normalise(obj)
    except UnusableRecording as exc:
        logger.warning("callback for recording %s: Vobiz's object is unusable (%s); nothing stored", recording_id, exc)
        return "unusable"
    if fields["recording_id"] != recording_id:
        logger.warning("callback for recording %s: Vobiz answered with another recording; nothing stored", recording_id)
        return "unusable"
    store_recordings([fields], now=timezone.now())  # one transaction with its change of data version
    logger.info("callback for recording %s: stored from the API", recording_id)
    return "stored"
