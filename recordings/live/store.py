"""A recording callback's recording, fetched from the API by id and stored.

A recording callback's body is not signed, so it only names a recording: `fetch_recording` asks
the API for it by id and stores the API's object through the sync's normaliser and writer. It runs
off the request, as background work; Vobiz retries callbacks and the sync may have the row
already, so storing is an upsert and running it twice changes nothing.
"""

import logging

from django.db import transaction
from django.utils import timezone
from django_tasks import task
from django_tasks_db import DatabaseBackend

from recordings.sync.normalise import UnusableRecording, normalise
from recordings.sync.store import store_recordings
from recordings.vobiz_account import client_from_settings
from vobiz.client import VobizError, VobizNotFound

logger = logging.getLogger(__name__)


def queue_recording_fetch(recording_id: str) -> None:
    """Hand the fetch to a worker. The database queue takes it in the caller's transaction, so that
    both commit at once, and fails with it (DatabaseError); another queue is asked once that
    transaction has committed, so that it never holds the transaction open, and one that refuses
    it (Redis down) loses nothing for good: the next sync stores the recording."""
    if isinstance(fetch_recording_task.get_backend(), DatabaseBackend):
        fetch_recording_task.enqueue(recording_id=recording_id)
    else:
        transaction.on_commit(lambda: enqueue_fetch(recording_id))


def enqueue_fetch(recording_id: str) -> None:
    try:
        fetch_recording_task.enqueue(recording_id=recording_id)
    except Exception as exc:  # whatever the queue raises; the callback is answered all the same
        not_queued(recording_id, exc)


def not_queued(recording_id: str, exc: Exception) -> None:
    logger.warning("callback for recording %s: fetch not queued (%s); the next sync picks it up", recording_id, exc)


@task()
def fetch_recording_task(*, recording_id: str) -> str:
    return fetch_recording(recording_id)


def fetch_recording(recording_id: str) -> str:
    """Fetches one recording from Vobiz and stores it; returns what happened, in words."""
    try:
        with client_from_settings() as client:
            obj = client.get_recording(recording_id)
    except VobizNotFound:
        logger.info("callback for recording %s: Vobiz has no such recording; nothing stored", recording_id)
        return "not found"
    except VobizError as exc:
        logger.warning("callback for recording %s: not fetched (%s); the next sync picks it up", recording_id, exc)
        raise
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
