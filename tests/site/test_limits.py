"""Bounds on what one user can take: exports (logged and capped), CDR look-ups, open streams,
forced counts."""

import re

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recordings import concurrency
from recordings.browsing.counting import MAX_COUNTED_ROWS
from recordings.models import AuditEvent, Recording
from tests.conftest import AUTH_ID, AUTH_TOKEN
from tests.factories import make_recordings
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


@pytest.fixture
def fake_account():
    return FakeAccount(count=8, seed=6, auth_id=AUTH_ID, auth_token=AUTH_TOKEN, max_audio_seconds=5)


# -- CSV exports ----------------------------------------------------------------------------------


def test_each_csv_export_is_logged_with_who_the_filter_and_the_row_count(support_client, support_user):
    make_recordings(5, recording_format="mp3")
    make_recordings(3, recording_format="wav")
    response = support_client.get("/", {"recording_format": "mp3", "_export": "csv"})
    assert b"".join(response.streaming_content).count(b"\r\n") == 1 + 5
    event = AuditEvent.objects.get(action=Action.TABLE_EXPORT)
    assert (event.user, event.recording, event.ip_address) == (support_user, None, "127.0.0.1")
    assert event.note == "5 recordings, filtered by recording_format=mp3"


def test_an_export_over_the_cap_is_refused_with_a_clear_message(support_client, settings):
    settings.CSV_EXPORT_MAX_ROWS = 4
    make_recordings(5)
    response = support_client.get("/", {"recording_type": "call", "_export": "csv"})
    assert response.status_code == 302 and response.url == "/?recording_type=call"
    [message] = get_messages(response.wsgi_request)
    assert "more than 4 rows" in str(message) and "at most 4" in str(message)
    assert "Narrow the filter" in str(message)
    assert not AuditEvent.objects.filter(action=Action.TABLE_EXPORT).exists()
    settings.CSV_EXPORT_MAX_ROWS = 5
    assert support_client.get("/", {"_export": "csv"}).status_code == 200


def test_the_audit_log_export_is_logged_and_capped_too(auditor_client, settings):
    make_recordings(2)
    for _ in range(3):
        auditor_client.get("/", {"_export": "csv"})
    response = auditor_client.get("/audit/", {"action": "table_export", "_export": "csv"})
    assert response.status_code == 200
    # Counted, then logged, then written: the file also holds its own entry.
    assert b"".join(response.streaming_content).count(b"\r\n") == 1 + 4
    assert AuditEvent.objects.filter(
        action=Action.TABLE_EXPORT, note="3 audit events, filtered by action=table_export"
    ).exists()
    settings.CSV_EXPORT_MAX_ROWS = 2
    response = auditor_client.get("/audit/", {"_export": "csv"})
    assert response.status_code == 302 and response.url == "/audit/"


# -- CDR look-ups ---------------------------------------------------------------------------------


def cdr_requests(server):
    return [r for r in server.requests_log if "/cdr/" in r.path]


def test_a_cdr_404_is_remembered_briefly(fake_vobiz, support_client):
    for _ in range(3):
        response = support_client.get("/calls/no-such-call/")
        assert b"no call record for this call" in response.content
    assert len(cdr_requests(fake_vobiz)) == 1
    support_client.post("/calls/no-such-call/")
    assert len(cdr_requests(fake_vobiz)) == 1


def test_a_cdr_404_is_asked_again_once_its_time_is_up(fake_vobiz, support_client, settings):
    settings.CDR_NOT_FOUND_SECONDS = 0
    support_client.get("/calls/no-such-call/")
    support_client.get("/calls/no-such-call/")
    assert len(cdr_requests(fake_vobiz)) == 2


# -- open streams ---------------------------------------------------------------------------------


def finish(response):
    """Read a streamed response to its end, which closes it (as a server does when it is sent)."""
    b"".join(response.streaming_content)


def test_a_user_may_hold_only_so_many_audio_streams_open(synced, support_client, client, auditor_user, settings):
    settings.STREAMS_PER_USER = 2
    first, second, third = Recording.objects.all()[:3]
    open_streams = [support_client.get(f"/recordings/{r.recording_id}/audio") for r in (first, second)]
    assert [s.status_code for s in open_streams] == [200, 200]
    refused = support_client.get(f"/recordings/{third.recording_id}/audio")
    assert refused.status_code == 429
    assert b"2 audio streams" in refused.content
    assert not AuditEvent.objects.filter(recording=third).exists()
    client.force_login(auditor_user)  # someone else is not held back
    other = client.get(f"/recordings/{third.recording_id}/audio")
    assert other.status_code == 200
    finish(other)
    finish(open_streams[0])  # the listener finished one
    again = support_client.get(f"/recordings/{third.recording_id}/audio")
    assert again.status_code == 200
    finish(again)
    finish(open_streams[1])


def test_a_stream_that_could_not_be_opened_gives_its_place_back(synced, support_client, settings):
    settings.STREAMS_PER_USER = 1
    recording = Recording.objects.first()
    synced.inject("500", times=10, path_contains="/media/")
    for _ in range(3):
        assert support_client.get(f"/recordings/{recording.recording_id}/audio").status_code == 502
    synced.clear_faults()
    response = support_client.get(f"/recordings/{recording.recording_id}/audio")
    assert response.status_code == 200
    finish(response)


def test_a_zip_counts_as_a_stream(synced, auditor_client, settings):
    settings.STREAMS_PER_USER = 1
    recordings = list(Recording.objects.all()[:2])
    playing = auditor_client.get(f"/recordings/{recordings[0].recording_id}/audio")
    response = auditor_client.post("/recordings/download.zip", {"selected": [r.recording_id for r in recordings]})
    assert response.status_code == 302
    assert "streams" in str(list(get_messages(response.wsgi_request))[0])
    finish(playing)
    response = auditor_client.post("/recordings/download.zip", {"selected": [r.recording_id for r in recordings]})
    assert response.status_code == 200
    finish(response)
    assert auditor_client.get(f"/recordings/{recordings[0].recording_id}/audio").status_code == 200


# -- counts ---------------------------------------------------------------------------------------


def test_a_huge_page_number_does_not_force_a_count_of_the_whole_view(support_client):
    make_recordings(30)
    with CaptureQueriesContext(connection) as queries:
        assert support_client.get("/", {"page": "999999", "per_page": "100"}).status_code == 200
    limits = [int(limit) for q in queries.captured_queries for limit in re.findall(r"LIMIT (\d+)", q["sql"])]
    assert max(limits) <= MAX_COUNTED_ROWS + 1


def test_one_exact_count_at_a_time_per_user(support_client, support_user):
    make_recordings(3)
    held = concurrency.acquire("count", support_user.pk, 1)
    try:
        response = support_client.get("/count")
        assert response.status_code == 429
        assert response.json()["count"] is None
    finally:
        held.release()
    assert support_client.get("/count").json()["count"] == 3
