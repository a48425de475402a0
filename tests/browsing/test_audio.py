import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import requests

from recordings.browsing.media import download_name
from recordings.models import Recording
from tests.conftest import AUTH_ID, AUTH_TOKEN
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_account():
    return FakeAccount(count=40, seed=3, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)


def direct_bytes(recording):
    response = requests.get(recording.recording_url, headers={"X-Auth-ID": AUTH_ID, "X-Auth-Token": AUTH_TOKEN})
    assert response.status_code == 200
    return response.content


class RecordingHandler(BaseHTTPRequestHandler):
    """A host outside the allow list: it must never be contacted, least of all with credentials."""

    received = []
    redirect_to = None

    def do_GET(self):
        type(self).received.append(dict(self.headers))
        if self.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"abc")

    def log_message(self, *args):
        pass


@pytest.fixture
def other_server():
    handler = type("Handler", (RecordingHandler,), {"received": [], "redirect_to": None})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("fmt, content_type", [("mp3", "audio/mpeg"), ("wav", "audio/wav")])
def test_whole_file_streams_through_with_its_type(synced, support_client, fmt, content_type):
    recording = Recording.objects.filter(recording_format=fmt).first()
    response = support_client.get(f"/recordings/{recording.recording_id}/audio")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == content_type
    assert response["Accept-Ranges"] == "bytes"
    body = b"".join(response.streaming_content)
    assert body == direct_bytes(recording)
    assert int(response["Content-Length"]) == len(body)


def test_range_requests_pass_through_so_seeking_works(synced, support_client):
    recording = Recording.objects.filter(recording_format="wav").first()
    whole = direct_bytes(recording)
    response = support_client.get(f"/recordings/{recording.recording_id}/audio", HTTP_RANGE="bytes=100-1099")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-1099/{len(whole)}"
    assert b"".join(response.streaming_content) == whole[100:1100]

    response = support_client.get(f"/recordings/{recording.recording_id}/audio", HTTP_RANGE=f"bytes={len(whole) + 10}-")
    assert response.status_code == 416


def test_download_is_named_after_the_call(synced, support_client):
    recording = Recording.objects.filter(recording_format="mp3").first()
    response = support_client.get(f"/recordings/{recording.recording_id}/audio", {"download": "1"})
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    digits = "".join(c for c in recording.from_number if c.isdigit())
    assert recording.add_time.strftime("%Y-%m-%d") in disposition
    assert digits in disposition and recording.recording_id[:8] in disposition
    assert disposition.endswith('.mp3"')


def test_a_download_is_named_by_its_time_in_the_viewers_zone_with_the_offset(synced, support_client):
    recording = Recording.objects.filter(recording_format="mp3").first()
    Recording.objects.filter(pk=recording.pk).update(add_time=datetime(2026, 3, 1, 20, 0, tzinfo=UTC))
    support_client.post("/preferences/time-zone", {"time_zone": "Asia/Kolkata"})
    response = support_client.get(f"/recordings/{recording.recording_id}/audio", {"download": "1"})
    assert 'filename="2026-03-02_0130+0530_' in response["Content-Disposition"]
    recording.refresh_from_db()
    assert download_name(recording, ZoneInfo("America/New_York")).startswith("2026-03-01_1500-0500_")


def point_at(url):
    recording = Recording.objects.first()
    Recording.objects.filter(pk=recording.pk).update(recording_url=url)
    return recording.recording_id


def test_a_host_outside_the_allow_list_is_refused_and_never_contacted(synced, support_client, other_server):
    server, handler = other_server
    recording_id = point_at(f"http://localhost:{server.server_port}/steal.mp3")
    response = support_client.get(f"/recordings/{recording_id}/audio")
    assert response.status_code == 403
    assert b"not one of VOBIZ_MEDIA_HOSTS" in response.content
    assert handler.received == []


def test_an_allowed_wildcard_leading_inside_the_network_is_refused(synced, support_client, other_server, settings):
    server, handler = other_server
    settings.VOBIZ_MEDIA_HOSTS = ["*.vobiz.ai", "local*"]
    recording_id = point_at(f"http://localhost:{server.server_port}/x.mp3")
    response = support_client.get(f"/recordings/{recording_id}/audio")
    assert response.status_code == 403
    assert b"inside the network" in response.content
    assert handler.received == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://recordings.vobiz.ai/x.mp3", "", "http:///nohost"])
def test_urls_that_are_not_http_are_refused(synced, support_client, url):
    response = support_client.get(f"/recordings/{point_at(url)}/audio")
    assert response.status_code == 403


def test_a_redirect_to_another_host_is_not_followed_with_credentials(synced, support_client, other_server):
    server, handler = other_server
    # The redirector is on the API host (allowed); its target is not.
    redirector = ThreadingHTTPServer(
        ("127.0.0.1", 0),
        type(
            "R", (RecordingHandler,), {"received": [], "redirect_to": f"http://localhost:{server.server_port}/leak.mp3"}
        ),
    )
    threading.Thread(target=redirector.serve_forever, daemon=True).start()
    try:
        recording_id = point_at(f"http://127.0.0.1:{redirector.server_port}/a.mp3")
        response = support_client.get(f"/recordings/{recording_id}/audio")
    finally:
        redirector.shutdown()
        redirector.server_close()
    assert response.status_code == 403
    assert handler.received == []


def test_upstream_failure_is_a_short_clear_message(synced, support_client):
    recording = Recording.objects.first()
    synced.inject("500", times=5, path_contains="/media/")
    response = support_client.get(f"/recordings/{recording.recording_id}/audio")
    assert response.status_code == 502
    assert response["Content-Type"].startswith("text/plain")
    assert b"could not be fetched from Vobiz" in response.content
    assert AUTH_TOKEN.encode() not in response.content


def test_unknown_recording_is_404(support_client):
    assert support_client.get("/recordings/nope/audio").status_code == 404
