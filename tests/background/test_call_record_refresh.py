"""A call's record asked for again: queued once at a time, logged, limited per user, and never
pushing the last sync or a failed run's Retry off /sync/."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.utils import timezone

from recordings.audit_trail import Actor
from recordings.background.tasks import (
    AlreadyQueued,
    RefreshBusy,
    TooManyRefreshes,
    queue_rows,
    request_call_record_refresh,
    retry,
)
from recordings.locks import DatabaseLock
from recordings.models import AuditEvent, Recording, TaskRun
from tests.factories import make_recording

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls():
    """Calls the dashboard has recordings of: call-0 … call-99."""
    for n in range(100):
        make_recording(recording_id=f"rec-{n}", call_uuid=f"call-{n}")


DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
Kind = TaskRun.Kind
Status = TaskRun.Status


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def refreshes_logged():
    return AuditEvent.objects.filter(action=AuditEvent.Action.CALL_RECORD)


def test_a_second_refresh_while_one_is_queued_says_so_and_queues_nothing(settings, fake_vobiz, support_client, calls):
    settings.TASKS = DATABASE_QUEUE  # nothing runs it: it stays queued
    first = support_client.post("/calls/call-1/")
    assert first.status_code == 302 and messages_of(first) == []
    second = support_client.post("/calls/call-1/")
    assert any("Call record refresh already queued" in m and "not queued again" in m for m in messages_of(second))
    assert TaskRun.objects.filter(kind=Kind.CALL_RECORD, status=Status.QUEUED).count() == 1
    assert support_client.post("/calls/call-2/").status_code == 302  # another call's is its own
    assert TaskRun.objects.filter(kind=Kind.CALL_RECORD, status=Status.QUEUED).count() == 2
    assert fake_vobiz.requests_log == []


def test_each_request_is_in_the_audit_log(settings, fake_vobiz, support_client, support_user, calls):
    settings.TASKS = DATABASE_QUEUE
    support_client.post("/calls/call-1/")
    support_client.post("/calls/call-1/")
    events = list(refreshes_logged().order_by("id"))
    assert [(e.user, e.call_uuid, e.get_action_display()) for e in events] == [
        (support_user, "call-1", "Asked for the call record again")
    ] * 2
    assert events[0].note == "" and "queued already" in events[1].note


def test_a_refresh_run_at_once_is_logged_and_asks_vobiz_once(synced, support_client):
    call_uuid = Recording.objects.exclude(call_uuid="").first().call_uuid
    synced.reset_log()
    assert support_client.post(f"/calls/{call_uuid}/").status_code == 302
    assert refreshes_logged().get().call_uuid == call_uuid
    assert len([r for r in synced.requests_log if "/cdr/" in r.path]) == 1


def test_a_user_past_the_hourly_limit_is_told_so_nothing_is_queued_and_the_first_refusal_is_logged(
    settings, fake_vobiz, support_client, calls
):
    settings.TASKS = DATABASE_QUEUE
    settings.CALL_RECORD_REFRESHES_PER_HOUR = 20
    for n in range(25):  # as many calls, so none is refused as already queued
        response = support_client.post(f"/calls/call-{n}/")
    assert TaskRun.objects.filter(kind=Kind.CALL_RECORD).count() == 20
    assert refreshes_logged().count() == 21  # and one refusal, not five
    assert refreshes_logged().latest("id").note == "refused: over the hourly limit"
    refusal = "You have asked for call records again 20 times in the last hour, the most one user may: try again later."
    assert messages_of(response) == [refusal] * 5  # each of the five left (shown on the next page)
    AuditEvent.objects.filter(action=AuditEvent.Action.CALL_RECORD).update(at=timezone.now() - timedelta(minutes=61))
    support_client.post("/calls/call-99/")  # an hour on, the user may again
    assert TaskRun.objects.filter(kind=Kind.CALL_RECORD).count() == 21 and refreshes_logged().count() == 22


def test_the_limit_is_per_user(settings, fake_vobiz, client, support_user, auditor_user, calls):
    settings.TASKS = DATABASE_QUEUE
    settings.CALL_RECORD_REFRESHES_PER_HOUR = 1
    client.force_login(support_user)
    client.post("/calls/call-1/")
    assert messages_of(client.post("/calls/call-2/"))[0].startswith("You have asked for call records again 1 time")
    other = Client()
    other.force_login(auditor_user)
    assert messages_of(other.post("/calls/call-2/")) == []
    assert TaskRun.objects.filter(kind=Kind.CALL_RECORD).count() == 2


def run(kind, status, minutes_ago, **arguments):
    return TaskRun.objects.create(
        kind=kind,
        status=status,
        arguments=arguments,
        queued_at=timezone.now() - timedelta(minutes=minutes_ago),
        error="Vobiz answered 500" if status == Status.FAILED else "",
    )


def test_sync_page_keeps_the_last_sync_and_every_failed_runs_retry_however_many_small_tasks_ran(auditor_client):
    last_sync = run(Kind.SYNC, Status.SUCCEEDED, 120)
    failed_deletion = run(Kind.DELETION, Status.FAILED, 110, batch_id=7)
    failed_sync = run(Kind.FULL_SYNC, Status.FAILED, 100)
    failed_refresh = run(Kind.CALL_RECORD, Status.FAILED, 90, call_uuid="call-x")
    for n in range(60):
        run(Kind.CALL_RECORD, Status.SUCCEEDED, 60 - n, call_uuid=f"call-{n}")
    shown = {row.run.pk: row for row in queue_rows()}
    assert last_sync.pk in shown
    for failed in (failed_deletion, failed_sync, failed_refresh):
        assert shown[failed.pk].retryable
    html = auditor_client.get("/sync/").content.decode()
    for failed in (failed_deletion, failed_sync, failed_refresh):
        assert f"/sync/tasks/{failed.pk}/retry" in html
    assert len(shown) == 20 + 4  # the latest twenty, and the four above


def test_a_failed_run_something_replaced_is_no_longer_kept_on_the_sync_page():
    retried = run(Kind.DELETION, Status.FAILED, 200, batch_id=1)
    again = run(Kind.DELETION, Status.SUCCEEDED, 190, batch_id=1)
    TaskRun.objects.filter(pk=again.pk).update(retry_of=retried)
    refreshed_later = run(Kind.CALL_RECORD, Status.FAILED, 180, call_uuid="call-y")
    run(Kind.CALL_RECORD, Status.SUCCEEDED, 170, call_uuid="call-y")
    synced_later = run(Kind.SYNC, Status.FAILED, 160)
    last_sync = run(Kind.SYNC, Status.SUCCEEDED, 150)
    still_failed = run(Kind.DELETION, Status.FAILED, 140, batch_id=3)
    run(Kind.DELETION, Status.FAILED, 130, batch_id=3)  # failed again: both keep their Retry
    for n in range(30):
        run(Kind.CALL_RECORD, Status.SUCCEEDED, 100 - n, call_uuid=f"call-{n}")
    shown = {row.run.pk for row in queue_rows()}
    assert retried.pk not in shown
    assert refreshed_later.pk not in shown
    assert synced_later.pk not in shown
    assert still_failed.pk in shown and last_sync.pk in shown


def test_retrying_a_refresh_the_queue_refused_while_another_of_that_call_waits_queues_none(settings):
    settings.TASKS = DATABASE_QUEUE
    refused = run(Kind.CALL_RECORD, Status.UNQUEUED, 10, call_uuid="call-1")
    waiting = run(Kind.CALL_RECORD, Status.QUEUED, 5, call_uuid="call-1")
    run(Kind.CALL_RECORD, Status.QUEUED, 5, call_uuid="call-2")
    with pytest.raises(AlreadyQueued) as raised:
        retry(refused, requested_by=None)
    assert raised.value.run == waiting
    other = run(Kind.CALL_RECORD, Status.UNQUEUED, 10, call_uuid="call-3")
    assert retry(other, requested_by=None).status == Status.QUEUED


def test_a_refresh_for_a_call_without_a_recording_is_refused_and_logged_and_nothing_queued(
    settings, fake_vobiz, support_client
):
    settings.TASKS = DATABASE_QUEUE
    response = support_client.post("/calls/made-up-call/")
    assert messages_of(response) == ["No recording of call made-up-call is known here: its record is not fetched."]
    assert not TaskRun.objects.exists() and fake_vobiz.requests_log == []
    assert refreshes_logged().get().note == "refused: no recording of this call"


def test_a_request_while_another_of_the_same_user_is_handled_is_refused(
    settings, fake_vobiz, support_client, support_user, calls
):
    """The count and the queuing happen under the user's lock: a concurrent request cannot pass the
    count before the first is logged."""
    settings.TASKS = DATABASE_QUEUE
    with DatabaseLock(f"call-record-refresh:{support_user.pk}"):
        response = support_client.post("/calls/call-1/")
    assert messages_of(response) == [
        "Another of your requests for a call record is being handled: try again in a moment."
    ]
    assert not TaskRun.objects.exists()
    support_client.post("/calls/call-1/")  # released: it goes through
    assert TaskRun.objects.count() == 1


def test_a_flood_of_failed_refreshes_hides_no_failed_sync_or_deletion(auditor_client):
    failed_deletion = run(Kind.DELETION, Status.FAILED, 300, batch_id=7)
    failed_sync = run(Kind.SYNC, Status.FAILED, 290)
    for n in range(55):
        run(Kind.CALL_RECORD, Status.FAILED, 200 - n, call_uuid=f"call-{n}")
    shown = {row.run.pk for row in queue_rows()}
    assert {failed_deletion.pk, failed_sync.pk} <= shown
    html = auditor_client.get("/sync/").content.decode()
    assert f"/sync/tasks/{failed_deletion.pk}/retry" in html and f"/sync/tasks/{failed_sync.pk}/retry" in html


def test_a_call_whose_refresh_failed_again_and_again_shows_once():
    for minutes_ago in (50, 40, 30):
        latest = run(Kind.CALL_RECORD, Status.FAILED, minutes_ago, call_uuid="call-z")
    failures = [row.run.pk for row in queue_rows(limit=0) if row.run.kind == Kind.CALL_RECORD]
    assert failures == [latest.pk]


@pytest.mark.parametrize(
    ("kind", "arguments"),
    [(Kind.RETENTION, {}), (Kind.AUDIO_CHECK, {"sample": 50}), (Kind.RECORDING_FETCH, {"recording_id": "rec-1"})],
)
def test_a_failed_run_is_replaced_by_a_later_success_of_the_same_work(kind, arguments):
    failed = run(kind, Status.FAILED, 100, **arguments)
    assert failed.pk in {row.run.pk for row in queue_rows(limit=0)}
    run(kind, Status.SUCCEEDED, 50, **arguments)
    assert failed.pk not in {row.run.pk for row in queue_rows(limit=0)}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="threads need a server database")
def test_concurrent_requests_of_one_user_never_pass_the_limit_together(settings, fake_vobiz, support_user):
    settings.TASKS = DATABASE_QUEUE
    settings.CALL_RECORD_REFRESHES_PER_HOUR = 3
    for n in range(24):
        make_recording(recording_id=f"rec-{n}", call_uuid=f"call-{n}")
    actor = Actor(user=support_user, ip_address=None, user_agent="")
    start = threading.Barrier(8)

    def ask(n: int) -> str:
        start.wait()
        try:
            request_call_record_refresh(actor=actor, call_uuid=f"call-{n}")
        except (TooManyRefreshes, RefreshBusy, AlreadyQueued) as exc:
            return type(exc).__name__
        finally:
            connection.close()
        return "queued"

    outcomes = []
    for round in range(3):  # each lets at least the lock's first holder through
        with ThreadPoolExecutor(8) as pool:
            outcomes += pool.map(ask, range(round * 8, round * 8 + 8))
    assert outcomes.count("queued") == 3  # each round lets one through at least, the limit three at most
    assert TaskRun.objects.filter(kind=Kind.CALL_RECORD).count() == 3
    assert refreshes_logged().filter(note="").count() == 3
