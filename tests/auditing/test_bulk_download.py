import csv
import hashlib
import io
import re
import tracemalloc
import zipfile

import pytest
import requests
import urllib3
from django.contrib.messages import get_messages
from django.utils import timezone

from recordings.auditing.bulk_download import MANIFEST_NAME, REPORT_NAME, body_chunks, unique_name
from recordings.browsing.media import READ_SIZE, download_name
from recordings.models import AudioHash, AuditEvent, Recording
from tests.conftest import AUTH_ID, AUTH_TOKEN
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db

URL = "/recordings/download.zip"
COUNT = 200


@pytest.fixture
def fake_account():
    # Ten seconds of audio each keeps 200 files quick to serve; the listed durations stay real.
    return FakeAccount(count=COUNT, seed=11, auth_id=AUTH_ID, auth_token=AUTH_TOKEN, max_audio_seconds=10)


@pytest.fixture
def direct():
    """The audio of a recording fetched straight from the fake Vobiz API."""
    session = requests.Session()
    session.headers.update({"X-Auth-ID": AUTH_ID, "X-Auth-Token": AUTH_TOKEN})

    def fetch(recording):
        response = session.get(recording.recording_url)
        assert response.status_code == 200
        return response.content

    yield fetch
    session.close()


def manifest_of(archive):
    return list(csv.DictReader(io.StringIO(archive.read(MANIFEST_NAME).decode())))


def ticked(recordings):
    return {"selected": [r.recording_id for r in recordings]}


def download(client, data, path):
    """POST, then write the streamed body to `path` chunk by chunk; returns (response, bytes written)."""
    response = client.post(URL, data)
    assert response.status_code == 200
    assert response.streaming
    written = 0
    with open(path, "wb") as out:
        for chunk in response.streaming_content:
            out.write(chunk)
            written += len(chunk)
    return response, written


# The most memory a ZIP may take: about 1 MiB for the rows, the headers and the fake Vobiz's own
# records (it runs in this process), and the read in hand with a few copies of it on the way through
# the hash and the archive. Measured (SQLite, 2026-12-07): 1.35 MiB with reads of 64 KiB, 1.52 MiB
# with 256 KiB, 1.74 MiB with 1 MiB. The 200 files here are of 313 KiB at most: a file held whole is
# caught by the ZIP of one larger than the bound (9.2 MiB measured when it was).
MEMORY_BOUND = 2**20 + 4 * READ_SIZE


def traced_peak(client, data, path):
    """(response, bytes written, peak memory traced) of a ZIP downloaded after a request that warms
    the process up. The process's first request imports the URLconf, the views and the middleware,
    about 3 MiB that tracemalloc counts: measured without the warm-up, the peak was 4.6 MiB when
    the test ran first in its process and 1.5 MiB when another test had made a request before."""
    assert client.get(URL).status_code == 405  # a POST only, but through the URLconf and middleware
    tracemalloc.start()
    try:
        response, total = download(client, data, path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return response, total, peak


def test_a_zip_of_200_streams_in_bounded_memory_and_holds_every_file(synced, auditor_client, direct, tmp_path):
    recordings = list(Recording.objects.all())
    assert len(recordings) == COUNT
    # Fetched first so the fake server (same process) has rendered its audio before memory is measured.
    sizes = {download_name(r): len(direct(r)) for r in recordings}

    response, total, peak = traced_peak(auditor_client, ticked(recordings), tmp_path / "all.zip")
    print(f"\nZIP of {COUNT}: {total / 2**20:.1f} MiB streamed, peak traced memory {peak / 2**20:.2f} MiB")
    assert total > 10 * 2**20
    assert peak < total / 10 and peak < MEMORY_BOUND

    assert response["Content-Type"] == "application/zip"
    # Named by the time in the viewer's zone, with its offset.
    assert re.fullmatch(
        rf'attachment; filename="recordings_{timezone.localdate():%Y-%m-%d}_\d{{4}}\+0000_{COUNT}.zip"',
        response["Content-Disposition"],
    )
    with zipfile.ZipFile(tmp_path / "all.zip") as archive:
        assert archive.testzip() is None  # every CRC checks out
        files = [info for info in archive.infolist() if info.filename != MANIFEST_NAME]
        assert {info.filename: info.file_size for info in files} == sizes
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
        for recording in recordings[::50]:
            assert archive.read(download_name(recording)) == direct(recording)
        listed = manifest_of(archive)
    assert [row["file"] for row in listed] == [download_name(r) for r in recordings]
    hashes = dict(AudioHash.objects.values_list("recording__recording_id", "audio_sha256"))
    assert {row["recording_id"]: row["sha256"] for row in listed} == hashes
    assert {row["file"]: int(row["size"]) for row in listed} == sizes
    events = AuditEvent.objects.filter(action=AuditEvent.Action.DOWNLOAD)
    assert events.count() == COUNT
    assert set(events.values_list("note", flat=True)) == {f"in a ZIP of {COUNT} recordings"}
    assert set(events.values_list("recording__recording_id", flat=True)) == {r.recording_id for r in recordings}


def test_a_file_larger_than_the_memory_bound_streams_through_a_zip(synced, auditor_client, direct, tmp_path):
    synced.account.max_audio_seconds = 150  # a 4.6 MiB WAV: held whole, it alone would pass the bound
    recording = next(
        r for r in Recording.objects.all() if r.recording_format == "wav" and r.recording_duration_ms >= 150_000
    )
    audio = direct(recording)  # rendered by the fake before memory is measured
    assert len(audio) > 2 * MEMORY_BOUND

    _, total, peak = traced_peak(auditor_client, ticked([recording]), tmp_path / "one.zip")
    print(f"\nZIP of a {len(audio) / 2**20:.1f} MiB file: peak traced memory {peak / 2**20:.2f} MiB")
    assert total > len(audio) and peak < MEMORY_BOUND
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        assert archive.read(download_name(recording)) == audio


def test_unfetchable_and_removed_recordings_are_reported_and_the_rest_are_intact(
    synced, auditor_client, direct, tmp_path
):
    recordings = list(Recording.objects.all()[:6])
    failing, refused, deleted, gone = recordings[:4]
    synced.inject("500", times=5, path_contains=failing.recording_id)
    Recording.objects.filter(pk=refused.pk).update(recording_url="http://intranet.example/x.mp3")
    Recording.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    Recording.objects.filter(pk=gone.pk).update(gone_at=timezone.now())

    download(auditor_client, ticked(recordings), tmp_path / "some.zip")

    with zipfile.ZipFile(tmp_path / "some.zip") as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names[-2:] == [MANIFEST_NAME, REPORT_NAME]
        assert names[:-2] == [download_name(r) for r in recordings[4:]]
        for recording in recordings[4:]:
            assert archive.read(download_name(recording)) == direct(recording)
        listed = manifest_of(archive)
        report = archive.read(REPORT_NAME).decode()
    assert listed == [
        {
            "file": download_name(r),
            "recording_id": r.recording_id,
            "size": str(len(direct(r))),
            "sha256": hashlib.sha256(direct(r)).hexdigest(),
        }
        for r in recordings[4:]
    ]
    assert report.startswith("4 of 6 selected recordings")
    assert f"{download_name(failing)}: the audio could not be fetched from Vobiz" in report
    assert "HTTP 500" in report
    assert f"{download_name(refused)}: its audio may not be fetched" in report
    assert "not one of VOBIZ_MEDIA_HOSTS" in report
    assert f"{download_name(deleted)}: it was deleted at Vobiz" in report
    assert f"{download_name(gone)}: Vobiz no longer has it" in report
    assert AUTH_TOKEN not in report and "Traceback" not in report
    logged = AuditEvent.objects.filter(action=AuditEvent.Action.DOWNLOAD).values_list("recording_id", flat=True)
    assert sorted(logged) == sorted(r.pk for r in recordings[4:])


def test_a_connection_lost_midway_keeps_the_archive_valid_and_says_so(synced, auditor_client, tmp_path):
    recordings = list(Recording.objects.filter(recording_format="wav")[:2])
    synced.inject("truncated", times=1, path_contains=recordings[0].recording_id)

    download(auditor_client, ticked(recordings), tmp_path / "cut.zip")

    with zipfile.ZipFile(tmp_path / "cut.zip") as archive:
        assert archive.testzip() is None
        assert len(archive.namelist()) == 4
        report = archive.read(REPORT_NAME).decode()
        # The file cut short is in the archive and the report, never in the manifest, nor hashed.
        assert [row["file"] for row in manifest_of(archive)] == [download_name(recordings[1])]
    assert list(AudioHash.objects.values_list("recording", flat=True)) == [recordings[1].pk]
    assert f"{download_name(recordings[0])}: the connection to Vobiz was lost" in report
    assert "incomplete" in report


def test_the_filtered_view_downloads_exactly_its_rows(synced, auditor_client, tmp_path):
    download(auditor_client, {"scope": "view", "filter_query": "recording_format=wav"}, tmp_path / "wav.zip")
    wavs = Recording.objects.filter(recording_format="wav")
    assert 0 < wavs.count() < COUNT
    with zipfile.ZipFile(tmp_path / "wav.zip") as archive:
        assert sorted(archive.namelist()) == sorted([MANIFEST_NAME, *(download_name(r) for r in wavs)])


def only_message(response):
    (message,) = get_messages(response.wsgi_request)
    return str(message)


def test_an_empty_selection_goes_back_with_a_message(auditor_client):
    response = auditor_client.post(URL, {"selected": []})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "nothing to download" in only_message(response)


def test_too_many_goes_back_with_a_message(synced, auditor_client, monkeypatch):
    monkeypatch.setattr("recordings.auditing.bulk_download.MAX_RECORDINGS", 50)
    response = auditor_client.post(URL, {"scope": "view", "filter_query": "recording_format=wav"})
    assert response.status_code == 302 and response["Location"] == "/?recording_format=wav"
    assert "at most 50 recordings" in only_message(response)
    assert not AuditEvent.objects.exists()


def test_support_is_forbidden(synced, support_client):
    assert support_client.post(URL, ticked(Recording.objects.all()[:2])).status_code == 403


def test_anonymous_is_sent_to_log_in(client):
    response = client.post(URL, {"selected": ["x"]})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_get_is_not_allowed(auditor_client):
    assert auditor_client.get(URL).status_code == 405


def test_clashing_names_get_a_suffix():
    taken = set()
    assert [unique_name(n, taken) for n in ("a.mp3", "a.mp3", "a.mp3", "b.wav")] == [
        "a.mp3",
        "a_2.mp3",
        "a_3.mp3",
        "b.wav",
    ]


def unsized() -> requests.Response:
    """An upstream 200 whose size Vobiz did not announce (chunked)."""
    response = requests.Response()
    response.status_code = 200
    response.raw = urllib3.HTTPResponse(body=io.BytesIO(b"abcd"), status=200, preload_content=False)
    return response


def test_a_file_of_unannounced_size_is_reported_and_left_out_of_the_manifest():
    missing: list[tuple[str, str]] = []
    noted = []
    body = b"".join(body_chunks(unsized(), "a.mp3", missing, lambda *a: noted.append(a)))
    assert body == b"abcd" and noted == []
    ((name, why),) = missing
    assert name == "a.mp3" and "4 bytes without announcing" in why and "not in the manifest" in why
