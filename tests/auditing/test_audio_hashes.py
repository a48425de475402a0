"""A hash per recording: taken as the whole audio streams through, compared on each later whole fetch."""

import csv
import hashlib
import io
from urllib.parse import urlsplit

import pytest
import requests
from django.core.management import CommandError, call_command
from requests.adapters import HTTPAdapter

from recordings.auditing.audio_hashes import VERIFIER, Check, hashed, verify_recording, whole_size
from recordings.formatting import byte_size, utc_time
from recordings.models import AudioHash, AuditEvent, Recording
from tests.conftest import AUTH_ID, AUTH_TOKEN
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


@pytest.fixture
def fake_account():
    return FakeAccount(count=6, seed=5, auth_id=AUTH_ID, auth_token=AUTH_TOKEN, max_audio_seconds=20)


def direct_bytes(recording):
    response = requests.get(recording.recording_url, headers={"X-Auth-ID": AUTH_ID, "X-Auth-Token": AUTH_TOKEN})
    assert response.status_code == 200
    return response.content


def played(client, recording, range_header=None):
    headers = {"HTTP_RANGE": range_header} if range_header else {}
    response = client.get(f"/recordings/{recording.recording_id}/audio", **headers)
    return response, b"".join(response.streaming_content)


def media_fetches(server):
    return [r for r in server.requests_log if r.method == "GET" and "/media/" in r.path]


def tampered(recording):
    """The stored hash made to differ, as if Vobiz's audio had been replaced since it was taken."""
    AudioHash.objects.filter(recording=recording).update(audio_sha256="0" * 64, audio_size=3)


@pytest.mark.parametrize("range_header", [None, "bytes=0-"])
def test_the_first_whole_fetch_stores_the_hash_of_what_streamed_without_a_second_fetch(
    synced, support_client, range_header
):
    recording = Recording.objects.first()
    whole = direct_bytes(recording)
    assert "Not hashed yet" in support_client.get(f"/recordings/{recording.recording_id}/").content.decode()
    before = len(media_fetches(synced))
    response, body = played(support_client, recording, range_header)
    assert response.status_code in (200, 206) and body == whole
    assert len(media_fetches(synced)) == before + 1
    stored = AudioHash.objects.get(recording=recording)
    assert (stored.audio_sha256, stored.audio_size) == (hashlib.sha256(whole).hexdigest(), len(whole))
    assert stored.changed_at is None
    page = support_client.get(f"/recordings/{recording.recording_id}/").content.decode()
    assert stored.audio_sha256 in page and "changed since" not in page


@pytest.mark.parametrize("range_header", ["bytes=1-", "bytes=0-99", "bytes=-100", "bytes=10-"])
def test_a_part_is_not_hashed(synced, support_client, range_header):
    recording = Recording.objects.first()
    response, _ = played(support_client, recording, range_header)
    assert response.status_code == 206
    assert not AudioHash.objects.exists()


def test_a_stream_closed_early_is_not_hashed():
    noted = []

    def note(sha256, size):
        noted.append((sha256, size))

    chunks = hashed(iter([b"ab", b"cd"]), status=200, headers={"Content-Length": "4"}, on_whole=note)
    assert next(chunks) == b"ab"
    chunks.close()  # what Django does when the browser goes away
    assert noted == []
    whole = hashed(
        iter([b"ab", b"cd"]), status=200, headers={"Content-Length": "4"}, on_whole=lambda *a: noted.append(a)
    )
    assert b"".join(whole) == b"abcd"
    assert noted == [(hashlib.sha256(b"abcd").hexdigest(), 4)]


def test_a_body_of_unannounced_size_is_never_hashed():
    """A 200 without Content-Length whose stream just stops early looks like a whole one."""
    noted = []
    for chunks in ([b"ab"], [b"ab", b"cd"]):  # cut short, or whole: nothing tells them apart
        body = hashed(iter(chunks), status=200, headers={}, on_whole=lambda *a: noted.append(a))
        assert b"".join(body) == b"".join(chunks)  # still served
    assert noted == []


def test_audio_is_asked_of_vobiz_unencoded(synced, support_client):
    recording = Recording.objects.first()
    played(support_client, recording)
    (fetch,) = media_fetches(synced)
    assert fetch.headers.get("Accept-Encoding") == "identity"
    assert AudioHash.objects.filter(recording=recording).exists()


def test_audio_cut_short_is_not_hashed(synced, vobiz_client):
    recording = Recording.objects.first()
    synced.inject("truncated", times=1, path_contains=recording.recording_id)
    verified = verify_recording(recording, client=vobiz_client)
    assert verified.check == Check.FAILED
    assert not AudioHash.objects.exists()
    assert verify_recording(recording, client=vobiz_client).check == Check.HASHED


@pytest.mark.parametrize(
    "status, headers, expected",
    [
        (200, {"Content-Length": "1000"}, 1000),
        (200, {}, None),  # chunked: no size to tell a whole body from one cut short
        (200, {"Content-Length": "1000", "Content-Encoding": "gzip"}, None),  # the length of other bytes
        # Both a Transfer-Encoding and a Content-Length: malformed, its end a matter of which parser.
        (200, {"Content-Length": "1000", "Transfer-Encoding": "chunked"}, None),
        (200, {"Content-Length": "1000", "Transfer-Encoding": "identity"}, None),
        (206, {"Content-Range": "bytes 0-999/1000", "Content-Length": "1000", "Transfer-Encoding": "chunked "}, None),
        (206, {"Content-Range": "bytes 0-999/1000", "Transfer-Encoding": "chunked"}, 1000),  # chunked, its end told
        (206, {"Content-Range": "bytes 0-999/1000"}, 1000),
        (206, {"Content-Range": "bytes 0-998/1000"}, None),
        (206, {"Content-Range": "bytes 1-999/1000"}, None),
        (206, {"Content-Range": "bytes 0-999/*"}, None),
        (206, {}, None),  # several parts
        (416, {"Content-Range": "bytes */1000"}, None),
    ],
)
def test_what_is_the_whole_file_is_judged_from_the_response(status, headers, expected):
    assert whole_size(status, headers) == expected


def test_a_later_whole_fetch_that_differs_is_shown_logged_once_and_filtered(synced, client, support_user, auditor_user):
    recording, other = Recording.objects.all()[:2]
    client.force_login(support_user)
    for each in (recording, other):
        played(client, each)
    tampered(recording)
    whole = direct_bytes(recording)
    now = hashlib.sha256(whole).hexdigest()

    for _ in range(2):  # the second time is no new difference: not logged again
        played(client, recording)
        played(client, other)
    stored = AudioHash.objects.get(recording=recording)
    assert (stored.changed_sha256, stored.changed_size) == (now, len(whole))
    assert stored.changed_at is not None
    assert AudioHash.objects.get(recording=other).changed_at is None
    event = AuditEvent.objects.get(action=Action.AUDIO_CHANGED)
    assert (event.recording, event.user) == (recording, support_user)
    assert "0" * 64 in event.note and now in event.note

    page = client.get(f"/recordings/{recording.recording_id}/").content.decode()
    assert "The audio at Vobiz changed since" in page
    assert "0" * 64 in page and now in page
    assert "changed since" not in client.get(f"/recordings/{other.recording_id}/").content.decode()
    # Support has no such filter: it narrows nothing.
    assert support_client_ids(client, {"audio": "changed"}) == set(
        Recording.objects.values_list("recording_id", flat=True)
    )

    client.force_login(auditor_user)
    assert support_client_ids(client, {"audio": "changed"}) == {recording.recording_id}
    assert client.get("/", {"audio": "nonsense"}).status_code == 200


def test_two_fetches_seeing_the_same_change_at_once_log_it_once(synced, vobiz_client, monkeypatch):
    recording = Recording.objects.first()
    verify_recording(recording, client=vobiz_client)
    tampered(recording)
    seen_before_either_wrote = AudioHash.objects.get(recording=recording)
    assert verify_recording(recording, client=vobiz_client).check == Check.CHANGED
    # The other fetch read the row before the first one's update: its compare is stale.
    monkeypatch.setattr(AudioHash.objects, "get_or_create", lambda **kwargs: (seen_before_either_wrote, False))
    assert verify_recording(recording, client=vobiz_client).check == Check.CHANGED
    assert AuditEvent.objects.filter(action=Action.AUDIO_CHANGED).count() == 1


def test_the_change_note_gives_sizes_and_time_as_the_pages_do(synced, vobiz_client):
    recording = Recording.objects.first()
    verify_recording(recording, client=vobiz_client)
    tampered(recording)
    verify_recording(recording, client=vobiz_client)
    stored = AudioHash.objects.get(recording=recording)
    note = AuditEvent.objects.get(action=Action.AUDIO_CHANGED).note
    assert f"({byte_size(3)}); now" in note and f"({byte_size(stored.changed_size)})" in note
    assert f"first hashed {utc_time(stored.hashed_at)}:" in note


def support_client_ids(client, params):
    response = client.get("/", {**params, "_export": "csv"})
    rows = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    return {row["recording_id"] for row in rows}


def test_the_csv_export_holds_each_hash_and_size(synced, support_client):
    recording = Recording.objects.first()
    played(support_client, recording)
    whole = direct_bytes(recording)
    response = support_client.get("/", {"_export": "csv"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_id = {row["recording_id"]: row for row in rows}
    assert (by_id[recording.recording_id]["audio_size"], by_id[recording.recording_id]["audio_sha256"]) == (
        str(len(whole)),
        hashlib.sha256(whole).hexdigest(),
    )
    assert {
        (row["audio_size"], row["audio_sha256"]) for row in rows if row["recording_id"] != recording.recording_id
    } == {("", "")}


def test_verify_audio_hashes_checks_and_reports(synced, capsys):
    recordings = list(Recording.objects.order_by("pk"))
    call_command("verify_audio")
    assert f"{len(recordings)} unhashed, now hashed, 0 unchanged, 0 changed, 0 failed" in capsys.readouterr().out
    assert AudioHash.objects.count() == len(recordings)

    call_command("verify_audio", "--sample", "2")
    assert "2 unchanged" in capsys.readouterr().out

    tampered(recordings[0])
    with pytest.raises(CommandError, match="1 recording\\(s\\) changed"):
        call_command("verify_audio")
    out = capsys.readouterr().out
    assert f"changed {recordings[0].recording_id}: first hash {'0' * 64}" in out
    assert f"{len(recordings) - 1} unchanged" in out
    event = AuditEvent.objects.get(action=Action.AUDIO_CHANGED)
    assert (event.user, event.username, event.user_agent) == (None, "", VERIFIER.user_agent)


def test_verify_audio_fails_on_what_it_cannot_fetch_and_sends_no_credentials_off_the_allowed_hosts(
    synced, capsys, monkeypatch
):
    refused, failing = Recording.objects.order_by("pk")[:2]
    Recording.objects.filter(pk=refused.pk).update(recording_url="http://intranet.example/x.mp3")
    synced.inject("500", times=10, path_contains=failing.recording_id)
    sent = []
    send = HTTPAdapter.send

    def spied(adapter, request, *args, **kwargs):
        sent.append((urlsplit(request.url).netloc, request.headers.get("Host"), request.headers.get("X-Auth-Token")))
        return send(adapter, request, *args, **kwargs)

    monkeypatch.setattr(HTTPAdapter, "send", spied)
    with pytest.raises(CommandError, match="2 could not be checked"):
        call_command("verify_audio")
    fake_host = urlsplit(synced.base_url).netloc
    with_credentials = {(netloc, host) for netloc, host, token in sent if token == AUTH_TOKEN}
    assert with_credentials and all(fake_host in (netloc, host) for netloc, host in with_credentials)
    assert not any("intranet.example" in f"{netloc} {host}" for netloc, host, _ in sent)  # nothing at all went there
    out = capsys.readouterr().out
    assert f"failed {refused.recording_id}: its audio may not be fetched" in out
    assert "not one of VOBIZ_MEDIA_HOSTS" in out
    assert f"failed {failing.recording_id}: the audio could not be fetched from Vobiz" in out
    assert AUTH_TOKEN not in out


@pytest.mark.parametrize("sample", ["0", "-1", "x"])
def test_a_bad_sample_is_a_clear_error(sample):
    with pytest.raises(CommandError, match="sample"):
        call_command("verify_audio", "--sample", sample)
