"""A callback's recording against a slow Vobiz (the fake over HTTP): an API that does not know the
recording yet, an outage, Retry-After, an id Vobiz never has, and the Retry on /sync/.

The queue is the task framework's dummy backend, which keeps what is enqueued, `run_after`
included, and runs nothing: each test runs the queued work itself, as a worker would once it is due,
so that what is asserted is the schedule, never the wall clock.
"""

import logging
import os
import subprocess
import sys
from datetime import timedelta

import django_rq
import pytest
import redis
from django.db import OperationalError
from django.utils import timezone
from django_tasks.base import TaskResult
from django_tasks_db.models import DBTaskResult

from recordings.live.store import DELAY_SHARE, fetch_recording_task, give_up
from recordings.models import PendingFetch, Recording, TaskRun, Transcript
from tests.background.test_tasks import DATABASE_QUEUE, REDIS_QUEUE, TEST_REDIS_URL
from tests.live.test_callbacks import (
    PUBLIC_URL,
    RECORDING_PATH,
    TRANSCRIPTION_PATH,
    post,
    record_action_fields,
    signed_headers,
    transcription_fields,
)
from vobiz.client import VobizNotFound

pytestmark = pytest.mark.django_db

DUMMY_QUEUE = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend", "QUEUES": ["default"]}}
NEVER_KNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def queue(settings, fake_vobiz):
    settings.TASKS = DUMMY_QUEUE
    settings.DASHBOARD_PUBLIC_URL = PUBLIC_URL
    settings.CALLBACK_FETCH_PATIENCE_MINUTES = 60
    return fetch_recording_task.get_backend()


def run_queued(queue, *, later_by: timedelta = timedelta(0)) -> list[TaskResult]:
    """Runs what the queue holds and returns it. `later_by`: as if that much time had passed since
    each fetch's first try (its `since` moved back by that much)."""
    ran = list(queue.results)
    queue.results.clear()
    for result in ran:
        kwargs = dict(result.kwargs)
        if "since" in kwargs and later_by:
            kwargs["since"] -= later_by.total_seconds()
        try:
            result.task.call(*result.args, **kwargs)
        except Exception:  # a worker keeps it as the task's failure; the TaskRun says so
            pass
    return ran


def callback(client, recording_id, django_capture_on_commit_callbacks, fields=None):
    with django_capture_on_commit_callbacks(execute=True):
        fields = fields or {"RecordingID": recording_id}
        response = post(client, RECORDING_PATH, fields, signed_headers(RECORDING_PATH))
    assert response.status_code == 200


def scheduled(queue) -> list[TaskResult]:
    assert all(result.task.run_after is not None for result in queue.results)
    return list(queue.results)


def test_a_recording_the_api_does_not_know_yet_is_stored_once_it_does(
    client, queue, fake_vobiz, django_capture_on_commit_callbacks
):
    fake_vobiz.api_lag = 3600  # the callback comes long before the API knows the recording
    (recording_id,) = fake_vobiz.account.add_recordings(1)
    fields = record_action_fields(fake_vobiz.account.get(recording_id, unknown_too=True))  # all a callback says
    callback(client, recording_id, django_capture_on_commit_callbacks, fields)
    before = timezone.now()
    (first,) = run_queued(queue)
    after = timezone.now()
    assert first.task.run_after is None  # the first try goes at once
    (second,) = scheduled(queue)
    assert before + timedelta(seconds=1) <= second.task.run_after <= after + timedelta(seconds=1)  # a quick retry
    assert not Recording.objects.exists()

    run_queued(queue)  # still unknown: tried again later
    assert len(scheduled(queue)) == 1 and not Recording.objects.exists()

    fake_vobiz.api_lag = 0  # the API knows it now
    run_queued(queue)
    assert Recording.objects.filter(recording_id=recording_id).exists()
    assert not queue.results and not TaskRun.objects.exists()


def test_an_outage_loses_no_callback(client, queue, fake_vobiz, django_capture_on_commit_callbacks):
    fake_vobiz.start_outage()
    ids = fake_vobiz.account.add_recordings(5)
    for recording_id in ids:
        callback(client, recording_id, django_capture_on_commit_callbacks)
    run_queued(queue)
    run_queued(queue, later_by=timedelta(minutes=5))
    assert len(scheduled(queue)) == 5 and not Recording.objects.exists()

    fake_vobiz.end_outage()
    run_queued(queue)
    assert set(Recording.objects.values_list("recording_id", flat=True)) == set(ids)
    assert not queue.results and not TaskRun.objects.exists()


@pytest.mark.parametrize(
    ("retry_after", "waited", "delay"),
    [
        (None, timedelta(0), 1),  # no Retry-After, first retry: a second
        (None, timedelta(seconds=20), 5),  # a quarter of the time waited so far
        (None, timedelta(minutes=30), 60),  # at most a minute
        (30, timedelta(0), 30),  # Retry-After asks for longer
        (1800, timedelta(0), 1800),  # however long, within the patience
        (7200, timedelta(minutes=10), 3000),  # the patience ends it: the last try at the hour
    ],
)
def test_the_next_try_honours_retry_after_and_the_time_waited(queue, fake_vobiz, retry_after, waited, delay):
    fake_vobiz.start_outage(retry_after=retry_after)
    (recording_id,) = fake_vobiz.account.add_recordings(1)
    assert_next_try(queue, recording_id, waited=waited, delay=delay)
    assert fake_vobiz.requests_log[-1].fault == "outage"


def assert_next_try(queue, recording_id: str, *, waited: timedelta, delay: float) -> None:
    """One try of a fetch begun `waited` ago comes back `delay` seconds after it, give or take what
    waiting meanwhile adds: a quarter of the time the try itself took, measured here."""
    before = timezone.now()
    fetch_recording_task.call(recording_id=recording_id, since=(before - waited).timestamp(), tries=3)
    after = timezone.now()
    (result,) = scheduled(queue)
    took = after - before
    expected = before + timedelta(seconds=delay)
    assert expected <= result.task.run_after <= expected + took + took * DELAY_SHARE
    assert result.kwargs["tries"] == 4
    assert result.kwargs["since"] == pytest.approx((before - waited).timestamp())


def test_a_rate_limited_fetch_comes_back_when_retry_after_says(queue, fake_vobiz):
    fake_vobiz.rate_limit_retry_after = 600
    fake_vobiz.inject("429")
    (recording_id,) = fake_vobiz.account.add_recordings(1)
    assert_next_try(queue, recording_id, waited=timedelta(0), delay=600)
    assert fake_vobiz.requests_log[-1].fault == "429"


def test_a_hanging_vobiz_holds_a_worker_for_seconds_only(queue, fake_vobiz):
    fake_vobiz.stall_seconds = 30  # longer than the one try waits for an answer
    fake_vobiz.inject("stall")
    (recording_id,) = fake_vobiz.account.add_recordings(1)
    fetch_recording_task.call(recording_id=recording_id)
    (result,) = scheduled(queue)  # the try timed out, and is tried again
    assert result.kwargs["tries"] == 1 and not Recording.objects.exists()
    assert fake_vobiz.requests_log[-1].fault == "stall"


def test_a_recording_vobiz_never_has_is_not_stored_and_its_transcript_goes(
    client, queue, fake_vobiz, auditor_client, django_capture_on_commit_callbacks, caplog
):
    with django_capture_on_commit_callbacks(execute=True):
        fields = transcription_fields(NEVER_KNOWN)
        assert post(client, TRANSCRIPTION_PATH, fields, signed_headers(TRANSCRIPTION_PATH)).status_code == 200
    callback(client, NEVER_KNOWN, django_capture_on_commit_callbacks)
    assert Transcript.objects.filter(recording_id=NEVER_KNOWN).exists()
    assert len(run_queued(queue)) == 1  # the recording's callback joined the transcription's chain
    assert len(scheduled(queue)) == 1
    run_queued(queue, later_by=timedelta(minutes=59))
    assert len(scheduled(queue)) == 1  # the last try comes at the hour
    assert all(r.task.run_after <= timezone.now() + timedelta(minutes=1) for r in queue.results)

    with caplog.at_level(logging.WARNING, logger="recordings.live.store"):
        run_queued(queue, later_by=timedelta(minutes=60))
    assert not queue.results  # the retries end
    assert not Recording.objects.exists()
    assert not Transcript.objects.exists()
    assert any(NEVER_KNOWN in line and "transcript" in line and "deleted" in line for line in caplog.messages)
    assert not PendingFetch.objects.exists()  # a later callback may start another chain
    failed = TaskRun.objects.get()  # one, for both callbacks
    assert (failed.kind, failed.status, failed.arguments) == (
        "recording_fetch",
        "failed",
        {"recording_id": NEVER_KNOWN},
    )
    assert "Vobiz's API had no such recording" in failed.error and "transcript" in failed.error

    page = auditor_client.get("/sync/").content.decode()
    assert "Recording fetch" in page and NEVER_KNOWN in page
    assert f"/sync/tasks/{failed.pk}/retry" in page


def test_the_retry_button_fetches_a_recording_given_up_on(
    client, queue, fake_vobiz, auditor_client, django_capture_on_commit_callbacks
):
    fake_vobiz.start_outage()
    (recording_id,) = fake_vobiz.account.add_recordings(1)
    with django_capture_on_commit_callbacks(execute=True):
        fields = transcription_fields(recording_id)
        assert post(client, TRANSCRIPTION_PATH, fields, signed_headers(TRANSCRIPTION_PATH)).status_code == 200
    run_queued(queue)
    run_queued(queue, later_by=timedelta(hours=1))
    failed = TaskRun.objects.get(status="failed")
    assert "HTTP 503" in failed.error
    assert Transcript.objects.filter(recording_id=recording_id).exists()  # down is not "not found": kept

    fake_vobiz.end_outage()
    response = auditor_client.post(f"/sync/tasks/{failed.pk}/retry")
    assert response.status_code == 302
    run_queued(queue)
    assert Recording.objects.filter(recording_id=recording_id).exists()
    again = TaskRun.objects.get(retry_of=failed)
    assert (again.kind, again.status) == ("recording_fetch", "succeeded")


def test_a_retry_that_fails_again_is_shown_for_another(queue, fake_vobiz, auditor_client):
    failed = TaskRun.objects.create(
        kind="recording_fetch", status="failed", arguments={"recording_id": NEVER_KNOWN}, queued_at=timezone.now()
    )
    auditor_client.post(f"/sync/tasks/{failed.pk}/retry")
    run_queued(queue)
    again = TaskRun.objects.get(retry_of=failed)
    assert again.status == "failed" and "404" in again.error
    assert f"/sync/tasks/{again.pk}/retry" in auditor_client.get("/sync/").content.decode()


def test_a_refusal_is_not_retried(queue, fake_vobiz):
    fake_vobiz.inject("401")
    (recording_id,) = fake_vobiz.account.add_recordings(1)
    fetch_recording_task.call(recording_id=recording_id)
    assert not queue.results
    failed = TaskRun.objects.get()
    assert failed.status == "failed" and "401" in failed.error


def test_a_recording_stored_meanwhile_ends_the_retries(client, queue, synced, django_capture_on_commit_callbacks):
    stored = Recording.objects.first()
    synced.start_outage()
    callback(client, stored.recording_id, django_capture_on_commit_callbacks)
    run_queued(queue)
    assert len(scheduled(queue)) == 1
    run_queued(queue)  # the row is there already (a sync stored it): nothing more to wait for
    assert not queue.results and not TaskRun.objects.exists()


def test_the_database_queue_keeps_the_next_try_until_it_is_due(settings, fake_vobiz):
    settings.TASKS = DATABASE_QUEUE
    fake_vobiz.start_outage(retry_after=30)
    (recording_id,) = fake_vobiz.account.add_recordings(1)
    fetch_recording_task.call(recording_id=recording_id)
    queued = DBTaskResult.objects.get()
    assert queued.run_after > timezone.now() + timedelta(seconds=25)
    assert not DBTaskResult.objects.ready().exists()  # no worker takes it before then


def test_the_redis_queue_schedules_the_next_try(fake_vobiz, settings):
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    settings.TASKS = REDIS_QUEUE
    settings.RQ_QUEUES = {"default": {"URL": TEST_REDIS_URL}}
    fake_vobiz.start_outage(retry_after=30)
    (recording_id,) = fake_vobiz.account.add_recordings(1)
    fetch_recording_task.call(recording_id=recording_id)
    rq_queue = django_rq.get_queue("default")
    (job_id,) = rq_queue.scheduled_job_registry.get_job_ids()
    at = rq_queue.scheduled_job_registry.get_scheduled_time(job_id)
    assert at > timezone.now() + timedelta(seconds=25)
    assert rq_queue.count == 0  # RQ's scheduler (rqworker --with-scheduler) moves it to the queue then


def test_without_delayed_work_the_fetch_gives_up_after_one_try(fake_vobiz, settings):
    """The immediate backend (the tests') cannot delay work: one try, then shown as failed."""
    (recording_id,) = fake_vobiz.account.add_recordings(1)
    fake_vobiz.api_lag = 3600
    assert fetch_recording_task.call(recording_id=recording_id) == "not found"
    assert TaskRun.objects.get().status == "failed"


@pytest.mark.parametrize("value", ["-1", "an hour", "1441"])
def test_a_bad_patience_setting_is_a_clear_error(settings, value):
    env = {**os.environ, "DJANGO_DEBUG": "1", "CALLBACK_FETCH_PATIENCE_MINUTES": value}
    result = subprocess.run(
        [sys.executable, "-c", "import vobiz_dashboard.settings"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "CALLBACK_FETCH_PATIENCE_MINUTES must be" in result.stderr.splitlines()[-1]


def test_no_answer_at_all_is_tried_again(queue, settings):
    settings.VOBIZ_API_URL = "http://127.0.0.1:9/api/v1"  # nothing listens: the connection is refused
    fetch_recording_task.call(recording_id=NEVER_KNOWN)
    (result,) = scheduled(queue)
    assert result.kwargs["tries"] == 1
    assert not TaskRun.objects.exists()


def test_redelivered_callbacks_join_the_recordings_one_chain(
    client, queue, fake_vobiz, django_capture_on_commit_callbacks
):
    fake_vobiz.api_lag = 3600
    (recording_id,) = fake_vobiz.account.add_recordings(1)
    for _ in range(3):  # Vobiz redelivers, each with a fresh nonce
        callback(client, recording_id, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        fields = transcription_fields(recording_id)
        assert post(client, TRANSCRIPTION_PATH, fields, signed_headers(TRANSCRIPTION_PATH)).status_code == 200
    assert len(queue.results) == 1
    run_queued(queue)
    callback(client, recording_id, django_capture_on_commit_callbacks)  # while a try is scheduled
    assert len(scheduled(queue)) == 1

    fake_vobiz.api_lag = 0
    run_queued(queue)
    assert Recording.objects.filter(recording_id=recording_id).exists()
    assert not PendingFetch.objects.exists()
    asked = [r for r in fake_vobiz.requests_log if recording_id in r.path and "/Recording/" in r.path]
    assert len(asked) == 2  # the first try and the one that stored it: one chain


def test_a_callback_after_the_chain_ended_starts_another(client, queue, fake_vobiz, django_capture_on_commit_callbacks):
    callback(client, NEVER_KNOWN, django_capture_on_commit_callbacks)
    run_queued(queue)
    run_queued(queue, later_by=timedelta(hours=1))
    assert not queue.results and not PendingFetch.objects.exists()
    callback(client, NEVER_KNOWN, django_capture_on_commit_callbacks)
    assert len(queue.results) == 1


def test_a_lost_chain_is_taken_over(client, queue, fake_vobiz, django_capture_on_commit_callbacks):
    (recording_id,) = fake_vobiz.account.add_recordings(1)
    PendingFetch.objects.create(recording_id=recording_id, started_at=timezone.now() - timedelta(minutes=30))
    callback(client, recording_id, django_capture_on_commit_callbacks)
    assert not queue.results  # half an hour into a chain of an hour: it may still come

    PendingFetch.objects.update(started_at=timezone.now() - timedelta(hours=2))  # its worker died with it
    callback(client, recording_id, django_capture_on_commit_callbacks)
    run_queued(queue)
    assert Recording.objects.filter(recording_id=recording_id).exists()


def test_a_busy_database_is_a_try_that_can_come_later(queue, fake_vobiz, monkeypatch):
    (recording_id,) = fake_vobiz.account.add_recordings(1)

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr("recordings.live.store.store_recordings", locked)
    fetch_recording_task.call(recording_id=recording_id)
    (result,) = scheduled(queue)
    assert result.kwargs["tries"] == 1
    assert not TaskRun.objects.exists()  # not given up

    monkeypatch.undo()
    run_queued(queue)
    assert Recording.objects.filter(recording_id=recording_id).exists()


def test_a_recording_stored_by_a_sync_keeps_its_transcript_when_the_fetch_gives_up(queue, synced):
    stored = Recording.objects.first()
    Transcript.objects.create(
        recording_id=stored.recording_id, text="kept", received_at=timezone.now(), updated_at=timezone.now()
    )
    synced.api_lag = 3600  # the API's answer still says "not found", but the row is there now
    give_up(stored.recording_id, VobizNotFound("no such recording", status=404), first=timezone.now(), tries=3)
    assert Transcript.objects.filter(recording_id=stored.recording_id).exists()
    assert "transcript" not in TaskRun.objects.get().error
