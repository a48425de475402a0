import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recordings.audit_trail import PLAYBACK_WINDOW
from recordings.formatting import phone
from recordings.models import AuditEvent, DeletionOutcome, LegalHold, Recording, SyncRun
from tests.conftest import AUTH_ID, AUTH_TOKEN
from tests.factories import make_recording
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action
Status = DeletionOutcome.Status


@pytest.fixture
def fake_account():
    return FakeAccount(count=30, seed=9, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)


def deletes(server):
    return [r for r in server.requests_log if r.method == "DELETE"]


# -- the listening log ----------------------------------------------------------------------------


def test_one_log_entry_per_playback_however_many_range_requests(synced, support_client, support_user):
    recording = Recording.objects.filter(recording_format="wav").first()
    url = f"/recordings/{recording.recording_id}/audio"
    for range_header in ["bytes=0-", "bytes=1000-", "bytes=50000-", "bytes=2000-3000", "bytes=0-"]:
        response = support_client.get(url, HTTP_RANGE=range_header, HTTP_USER_AGENT="Chrome/1")
        b"".join(response.streaming_content)
    events = AuditEvent.objects.filter(action=Action.PLAY)
    assert events.count() == 1
    event = events.get()
    assert (event.user, event.recording, event.ip_address, event.user_agent) == (
        support_user,
        recording,
        "127.0.0.1",
        "Chrome/1",
    )


def test_each_download_is_logged(synced, support_client):
    recording = Recording.objects.first()
    for _ in range(2):
        support_client.get(f"/recordings/{recording.recording_id}/audio", {"download": "1"})
    assert AuditEvent.objects.filter(action=Action.DOWNLOAD, recording=recording).count() == 2
    assert not AuditEvent.objects.filter(action=Action.PLAY).exists()


@pytest.mark.parametrize("range_header", ["bytes=-999999999", "bytes=00-", "bytes= 0-", "bytes=0-0", "bytes=0-9,20-29"])
@pytest.mark.parametrize("download", [False, True])
def test_any_request_served_from_the_first_byte_is_logged(synced, support_client, range_header, download):
    recording = Recording.objects.filter(recording_format="wav").first()
    query = {"download": "1"} if download else {}
    response = support_client.get(f"/recordings/{recording.recording_id}/audio", query, HTTP_RANGE=range_header)
    assert response.status_code in (200, 206)
    b"".join(response.streaming_content)
    action = Action.DOWNLOAD if download else Action.PLAY
    assert AuditEvent.objects.filter(action=action, recording=recording).count() == 1


def audio(client, recording, range_header=None, download=False, method="get"):
    """The audio view's response to one request, its body read as a player would."""
    headers = {"HTTP_RANGE": range_header} if range_header is not None else {}
    response = getattr(client, method)(
        f"/recordings/{recording.recording_id}/audio", {"download": "1"} if download else {}, **headers
    )
    if response.streaming:
        b"".join(response.streaming_content)
    return response


def listening(recording=None):
    events = AuditEvent.objects.filter(action__in=AuditEvent.LISTENING)
    return list((events.filter(recording=recording) if recording else events).values_list("action", flat=True))


@pytest.mark.parametrize(
    "range_header, status",
    [
        ("bytes=1-", 206),  # every byte but the first: a decoder resyncs, so the whole recording
        ("bytes=417-", 206),
        ("bytes=1-999999999", 206),
        ("bytes=100-1099", 206),
        ("bytes=-100", 206),  # a suffix: the last bytes
        ("bytes=0001-", 206),  # padded
        ("bytes=1-,", 200),  # what the upstream does not read, it answers whole
        ("bytes= 1-", 200),
        ("bytes=1- ", 206),
        ("bytes=1 - 99", 200),
        ("bytes=5-9,20-29", 200),  # several ranges, which this upstream answers whole
        ("BYTES=1-", 200),
    ],
)
@pytest.mark.parametrize("download", [False, True])
def test_any_part_of_the_audio_served_is_logged(synced, support_client, range_header, status, download):
    recording = Recording.objects.filter(recording_format="wav").first()
    response = audio(support_client, recording, range_header, download=download)
    assert response.status_code == status
    assert listening() == [Action.DOWNLOAD if download else Action.PLAY]


class MultipartHandler(BaseHTTPRequestHandler):
    """An upstream answering several ranges as RFC 9110 says: one 206 of multipart/byteranges,
    with no Content-Range header of its own."""

    body = bytes(range(256)) * 40

    def do_GET(self):
        parts = [part.split("-") for part in self.headers["Range"].removeprefix("bytes=").split(",")]
        payload = b""
        for first, last in parts:
            payload += (
                (
                    f"--PART\r\nContent-Type: audio/mpeg\r\n"
                    f"Content-Range: bytes {first}-{last}/{len(self.body)}\r\n\r\n"
                ).encode()
                + self.body[int(first) : int(last) + 1]
                + b"\r\n"
            )
        payload += b"--PART--\r\n"
        self.send_response(206)
        self.send_header("Content-Type", "multipart/byteranges; boundary=PART")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def multipart_upstream(synced):
    server = ThreadingHTTPServer(("127.0.0.1", 0), MultipartHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    recording = Recording.objects.first()
    Recording.objects.filter(pk=recording.pk).update(recording_url=f"http://127.0.0.1:{server.server_port}/a.mp3")
    yield recording
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("range_header", ["bytes=5-9,20-29", "bytes=100-199,300-399,9000-9999"])
@pytest.mark.parametrize("download", [False, True])
def test_several_ranges_served_as_one_multipart_answer_are_logged(
    multipart_upstream, support_client, range_header, download
):
    response = audio(support_client, multipart_upstream, range_header, download=download)
    assert response.status_code == 206
    assert "Content-Range" not in response
    assert listening() == [Action.DOWNLOAD if download else Action.PLAY]


@pytest.mark.parametrize("download", [False, True])
def test_a_range_past_the_end_and_a_head_are_not_logged(synced, support_client, download):
    recording = Recording.objects.filter(recording_format="wav").first()
    assert audio(support_client, recording, "bytes=999999999-", download=download).status_code == 416
    assert audio(support_client, recording, "bytes=1-", download=download, method="head").status_code == 206
    assert audio(support_client, recording, download=download, method="head").status_code == 200
    assert listening() == []


def test_seeking_inside_one_listen_logs_once(synced, support_client):
    recording = Recording.objects.filter(recording_format="wav").first()
    for range_header in ["bytes=0-", "bytes=1-", "bytes=4000-", "bytes=-500", "bytes=10-20", "bytes=0-", None]:
        audio(support_client, recording, range_header)
    assert listening() == [Action.PLAY]


def test_a_download_is_not_hidden_by_a_playback_but_a_playback_is_by_a_download(synced, support_client):
    played, downloaded = Recording.objects.filter(recording_format="wav")[:2]
    audio(support_client, played, "bytes=0-")
    audio(support_client, played, "bytes=1-", download=True)
    audio(support_client, downloaded, "bytes=1-", download=True)
    audio(support_client, downloaded, "bytes=0-")
    audio(support_client, downloaded, "bytes=2-", download=True)  # resuming the same download
    assert listening(played) == [Action.DOWNLOAD, Action.PLAY]  # newest first
    assert listening(downloaded) == [Action.DOWNLOAD]


def test_a_listen_after_the_window_or_by_another_user_is_logged_again(synced, client, support_user, auditor_user):
    recording = Recording.objects.filter(recording_format="wav").first()
    client.force_login(support_user)
    audio(client, recording, "bytes=1-")
    AuditEvent.objects.update(at=timezone.now() - PLAYBACK_WINDOW - timedelta(seconds=1))
    audio(client, recording, "bytes=1-")
    client.force_login(auditor_user)
    audio(client, recording, "bytes=1-")
    users = AuditEvent.objects.filter(action=Action.PLAY).order_by("at").values_list("username", flat=True)
    assert list(users) == [support_user.username, support_user.username, auditor_user.username]


def test_every_download_from_the_start_is_logged_however_it_asks(synced, support_client):
    recording = Recording.objects.filter(recording_format="wav").first()
    url = f"/recordings/{recording.recording_id}/audio"
    for range_header in [None, "bytes=0-", "bytes=-999999999"]:
        headers = {"HTTP_RANGE": range_header} if range_header else {}
        b"".join(support_client.get(url, {"download": "1"}, **headers).streaming_content)
    assert AuditEvent.objects.filter(action=Action.DOWNLOAD, recording=recording).count() == 3


def test_a_head_request_is_not_logged(synced, support_client):
    recording = Recording.objects.first()
    assert support_client.head(f"/recordings/{recording.recording_id}/audio").status_code == 200
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    "status, content_range, first",
    [
        (200, None, True),
        (206, "bytes 0-99/1000", True),
        (206, "bytes 100-999/1000", False),
        (206, "bytes 0-99/*", True),
        (206, None, True),  # several parts (multipart/byteranges): counted as the start
        (206, "bytes 00x-99/1000", True),
        (416, "bytes */1000", False),
        (304, None, False),
    ],
)
def test_the_first_byte_is_judged_from_the_response(status, content_range, first):
    from recordings.audit_trail import serves_first_byte

    assert serves_first_byte(status, content_range) is first


def test_a_failed_fetch_is_not_logged_as_a_playback(synced, support_client):
    recording = Recording.objects.first()
    synced.inject("500", times=5, path_contains="/media/")
    assert support_client.get(f"/recordings/{recording.recording_id}/audio").status_code == 502
    assert not AuditEvent.objects.exists()


# -- reviews --------------------------------------------------------------------------------------


def test_review_flag_and_history(auditor_client, auditor_user):
    recording = make_recording()
    url = f"/recordings/{recording.recording_id}/review"
    auditor_client.post(url, {"state": "reviewed", "note": "fine"})
    auditor_client.post(url, {"state": "flagged", "note": "agent was rude at 1:20"})
    recording.refresh_from_db()
    assert (recording.review_state, recording.review_note, recording.reviewed_by) == (
        "flagged",
        "agent was rude at 1:20",
        auditor_user,
    )
    history = AuditEvent.objects.filter(recording=recording).order_by("at", "id")
    assert [(e.action, e.note) for e in history] == [(Action.REVIEW, "fine"), (Action.FLAG, "agent was rude at 1:20")]


def test_table_filters_by_review_state_and_shows_badges(auditor_client):
    flagged = make_recording(review_state="")
    plain = make_recording()
    auditor_client.post(f"/recordings/{flagged.recording_id}/review", {"state": "flagged", "note": ""})
    response = auditor_client.get("/", {"review": "flagged"})
    assert [row.record.pk for row in response.context["table"].page.object_list] == [flagged.pk]
    response = auditor_client.get("/", {"review": "none"})
    assert [row.record.pk for row in response.context["table"].page.object_list] == [plain.pk]
    assert b'class="badge badge-flagged"' in auditor_client.get("/").content


def test_invalid_review_state_is_refused_with_a_message(auditor_client):
    recording = make_recording()
    response = auditor_client.post(f"/recordings/{recording.recording_id}/review", {"state": "great"}, follow=True)
    assert response.status_code == 200
    recording.refresh_from_db()
    assert recording.review_state == ""
    assert not AuditEvent.objects.exists()


# -- holds ----------------------------------------------------------------------------------------


def test_hold_and_lift_are_logged_and_need_a_reason(auditor_client):
    recording = make_recording()
    auditor_client.post(f"/recordings/{recording.recording_id}/hold", {"reason": ""})
    assert not LegalHold.objects.exists()
    auditor_client.post(f"/recordings/{recording.recording_id}/hold", {"reason": "litigation 42"})
    hold = LegalHold.objects.active().get()
    assert b"On legal hold" in auditor_client.get(f"/recordings/{recording.recording_id}/").content
    auditor_client.post(f"/holds/{hold.pk}/lift", {"reason": "case closed"})
    assert not LegalHold.objects.active().exists()
    assert list(AuditEvent.objects.order_by("id").values_list("action", "note")) == [
        (Action.HOLD, "litigation 42"),
        (Action.RELEASE, "case closed"),
    ]


def test_pages_showing_a_hold_name_who_placed_it_without_another_query(
    auditor_client, auditor_user, django_assert_num_queries
):
    recording = make_recording()
    call_page, recording_page = f"/calls/{recording.call_uuid}/", f"/recordings/{recording.recording_id}/"
    queries = {}
    for page in (call_page, recording_page):
        with CaptureQueriesContext(connection) as captured:
            auditor_client.get(page)
        queries[page] = len(captured)
    auditor_client.post(f"/calls/{recording.call_uuid}/hold", {"reason": "dispute"})
    name = auditor_user.username
    for page, shown in ((call_page, f"({name}): dispute"), (recording_page, f"by {name}: dispute")):
        with django_assert_num_queries(queries[page]):
            content = auditor_client.get(page).content.decode()
        assert shown in content


def test_a_held_recording_cannot_be_deleted(synced, auditor_client):
    recording = Recording.objects.first()
    auditor_client.post(f"/recordings/{recording.recording_id}/hold", {"reason": "keep"})
    response = auditor_client.post(f"/recordings/{recording.recording_id}/delete", {"reason": "cleanup"})
    assert response.status_code == 200 and b"legal hold" in response.content
    assert deletes(synced) == []
    recording.refresh_from_db()
    assert recording.deleted_at is None


# -- deletion -------------------------------------------------------------------------------------


def test_single_deletion_confirms_with_the_call_numbers_and_date_then_leaves_a_tombstone(
    synced, auditor_client, auditor_user
):
    recording = Recording.objects.first()
    page = auditor_client.get(f"/recordings/{recording.recording_id}/delete").content.decode()
    numbers = (phone(recording.from_number), phone(recording.to_number))
    for fact in (recording.call_uuid, *numbers, recording.add_time.strftime("%Y")):
        assert fact in page
    assert deletes(synced) == []
    response = auditor_client.post(
        f"/recordings/{recording.recording_id}/delete", {"reason": "customer asked"}, follow=True
    )
    assert b"Deleted" in response.content
    recording.refresh_from_db()
    assert (recording.deleted_by, recording.deletion_reason) == (auditor_user, "customer asked")
    assert recording.deleted_at is not None
    assert synced.account.get(recording.recording_id) is None
    assert AuditEvent.objects.filter(action=Action.DELETE, recording=recording).exists()
    # The tombstone leaves the default view; a filter shows it.
    assert recording.pk not in [r.record.pk for r in auditor_client.get("/").context["table"].page.object_list]
    assert recording.pk in [
        r.record.pk for r in auditor_client.get("/", {"status": "removed"}).context["table"].page.object_list
    ]


def bulk(client, ids, **extra):
    return client.post("/bulk/delete", {"selected": ids, **extra}, follow=True)


def confirm(client, confirmation, reason):
    """Confirm the batch a confirmation page shows."""
    return client.post("/bulk/delete", {"batch": confirmation.context["batch"].pk, "reason": reason}, follow=True)


def bulk_delete(client, ids, reason):
    return confirm(client, bulk(client, ids), reason)


def test_bulk_deletion_states_the_count_then_reports_each_outcome(synced, auditor_client):
    ids = list(Recording.objects.values_list("recording_id", flat=True)[:6])
    held = Recording.objects.get(recording_id=ids[2])
    auditor_client.post(f"/recordings/{held.recording_id}/hold", {"reason": "keep"})
    confirmation = bulk(auditor_client, ids)
    assert b"Delete 5 recordings at Vobiz?" in confirmation.content  # the held one is kept
    assert confirmation.context["choice"].held == 1
    assert deletes(synced) == []

    result = confirm(auditor_client, confirmation, "retention")
    statuses = dict(DeletionOutcome.objects.values_list("recording__recording_id", "status"))
    assert statuses[held.recording_id] == Status.HELD
    assert sorted(statuses.values()).count(Status.DELETED) == 5
    assert len(deletes(synced)) == 5
    assert Recording.objects.filter(deleted_at__isnull=False).count() == 5
    assert b"On hold: kept" in result.content


def test_vobiz_failing_half_way_leaves_nothing_half_done_or_unreported(synced, auditor_client, settings):
    ids = list(Recording.objects.order_by("pk").values_list("recording_id", flat=True)[:8])
    original_delete = synced.account.delete
    calls = []

    def delete_then_break(recording_id):
        calls.append(recording_id)
        if len(calls) == 4:
            synced.failure_rate, synced.failure_kinds = 1.0, ["503"]
        return original_delete(recording_id)

    synced.account.delete = delete_then_break
    result = bulk_delete(auditor_client, ids, "retention")
    outcomes = list(DeletionOutcome.objects.order_by("recording__pk").values_list("recording__recording_id", "status"))
    statuses = [status for _, status in outcomes]
    assert statuses[:4] == [Status.DELETED] * 4
    assert Status.FAILED in statuses[4:]
    assert set(statuses[4:]) <= {Status.FAILED, Status.PENDING}
    for recording_id, status in outcomes:
        row = Recording.objects.get(recording_id=recording_id)
        upstream = synced.account.get(recording_id)
        if status == Status.DELETED:
            assert row.deleted_at is not None and upstream is None
        else:
            assert row.deleted_at is None and upstream is not None  # kept on both sides
    assert b"Stopped: Vobiz stopped answering" in result.content

    synced.failure_rate = 0
    retry_batch = result.context["batch"]
    result = auditor_client.post(f"/deletions/{retry_batch.pk}/retry", follow=True)
    assert Recording.objects.filter(recording_id__in=ids, deleted_at__isnull=False).count() == 8


def test_bulk_deletion_of_a_whole_filtered_view(synced, auditor_client):
    wav = Recording.objects.filter(recording_format="wav")
    count = wav.count()
    confirmation = auditor_client.post("/bulk/delete", {"scope": "view", "filter_query": "recording_format=wav"})
    assert confirmation.context["choice"].to_delete == count
    confirm(auditor_client, confirmation, "wav purge")
    assert Recording.objects.filter(deleted_at__isnull=False).count() == count
    assert not Recording.objects.filter(recording_format="mp3", deleted_at__isnull=False).exists()


def test_a_call_hold_protects_its_recordings_in_a_bulk_deletion(synced, auditor_client):
    recording = Recording.objects.first()
    auditor_client.post(f"/calls/{recording.call_uuid}/hold", {"reason": "dispute"})
    of_call = list(Recording.objects.filter(call_uuid=recording.call_uuid).values_list("recording_id", flat=True))
    confirmation = bulk(auditor_client, of_call)
    assert b"every chosen recording still at Vobiz is on legal hold" in confirmation.content
    assert b'name="batch"' not in confirmation.content  # no form to confirm, no Delete button
    assert not DeletionOutcome.objects.exists()
    assert deletes(synced) == []


# -- sync now -------------------------------------------------------------------------------------


def test_sync_now_runs_a_sync_and_logs_who_started_it(fake_vobiz, auditor_client):
    response = auditor_client.post("/sync/now", follow=True)
    assert response.status_code == 200
    run = SyncRun.objects.get()
    assert run.status == "succeeded" and run.created == 30
    assert AuditEvent.objects.filter(action=Action.SYNC).count() == 1


def test_sync_now_refuses_while_a_sync_runs(fake_vobiz, auditor_client):
    from recordings.locks import DatabaseLock
    from recordings.sync.run import LOCK_NAME

    with DatabaseLock(LOCK_NAME):
        response = auditor_client.post("/sync/now", follow=True)
    assert b"already running" in response.content
    assert not SyncRun.objects.exists()


# -- the create_user command ------------------------------------------------------------------------


def test_create_user_in_a_role_with_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("DASHBOARD_PASSWORD", "a-long-enough-passphrase")
    call_command("create_user", "aud1", "--role", "auditor")
    user = get_user_model().objects.get(username="aud1")
    assert user.check_password("a-long-enough-passphrase")
    assert user.has_perm("recordings.audit")


def test_create_user_refuses_a_weak_password_and_no_terminal(monkeypatch):
    monkeypatch.setenv("DASHBOARD_PASSWORD", "123")
    with pytest.raises(CommandError, match="too weak"):
        call_command("create_user", "x", "--role", "support")
    monkeypatch.delenv("DASHBOARD_PASSWORD")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(CommandError, match="DASHBOARD_PASSWORD"):
        call_command("create_user", "x", "--role", "support")
