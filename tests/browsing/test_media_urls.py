"""Where the audio proxy connects, and to whom it gives the Vobiz credentials."""

import ipaddress
import socket
import ssl
import subprocess
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from urllib3.util import parse_url

from recordings.browsing import media
from recordings.browsing.media import MediaRefused, bad_character, is_public
from recordings.models import Recording
from tests.conftest import AUTH_ID, AUTH_TOKEN
from vobiz.client import VobizClient
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_account():
    return FakeAccount(count=6, seed=5, auth_id=AUTH_ID, auth_token=AUTH_TOKEN, max_audio_seconds=5)


class Listener(BaseHTTPRequestHandler):
    """A host that must never see the credentials: it records every request it gets."""

    received: list
    answer = (200, {"Content-Type": "audio/mpeg", "Content-Length": "5"}, b"audio")

    def do_GET(self):
        type(self).received.append({"path": self.path, **dict(self.headers)})
        status, headers, body = type(self).answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def listener():
    """(handler class, port) of a listener on 127.0.0.2, an address the fake Vobiz is not on."""
    handler = type("Handler", (Listener,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.2", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, server.server_port
    server.shutdown()
    server.server_close()


def point_at(url):
    recording = Recording.objects.order_by("pk").first()
    Recording.objects.filter(pk=recording.pk).update(recording_url=url)
    return recording


def play(client, recording, **headers):
    return client.get(f"/recordings/{recording.recording_id}/audio", **headers)


def fake_host(fake_vobiz):
    return f"127.0.0.1:{fake_vobiz.port}"


def media_path(fake_vobiz, recording):
    return parse_url(recording.recording_url).path


# -- the URL is read once, by the parser that fetches it ------------------------------------------


def test_a_backslash_before_the_at_sign_cannot_send_the_credentials_elsewhere(synced, support_client, listener):
    handler, port = listener
    # urlsplit reads the host as 127.0.0.1 (the API host, allowed); urllib3 connects to 127.0.0.2.
    recording = point_at(f"http://127.0.0.2:{port}\\@{fake_host(synced)}/r.mp3")
    response = play(support_client, recording)
    assert response.status_code == 403
    assert b"cannot be played" in response.content and b"backslash" in response.content
    assert handler.received == []


@pytest.mark.parametrize(
    "url, why",
    [
        ("http://user:secret@{host}/r.mp3", b"user name"),
        ("http://{host}@127.0.0.2/r.mp3", b"user name"),
        ("http://{host}/a b.mp3", b"whitespace"),
        ("http://{host}/a\tb.mp3", b"whitespace"),
        (" http://{host}/r.mp3", b"whitespace"),
        ("http://{host}/a\x01b.mp3", b"control character"),  # PostgreSQL stores no NUL
        ("http://{host}/a\x7fb.mp3", b"control character"),
        ("http://127.0.0.1:99999/r.mp3", b"not a valid URL"),
        ("http://[::1/x", b"not a valid URL"),
        ("http://127.0.0.1:0/r.mp3", b"not a valid URL"),
        ("https:///r.mp3", b"not an http(s) URL"),
        ("javascript:alert(1)", b"not an http(s) URL"),
    ],
)
def test_malformed_or_ambiguous_urls_get_a_clear_refusal(synced, support_client, url, why):
    response = play(support_client, point_at(url.format(host=fake_host(synced))))
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/plain")
    assert why in response.content


def test_the_url_fetched_is_the_one_rebuilt_from_the_checked_parts(synced, support_client):
    recording = Recording.objects.order_by("pk").first()
    path = media_path(synced, recording)
    # Dot segments and a fragment: what is fetched is the normalised path, never the raw text.
    point_at(f"HTTP://127.0.0.1:{synced.port}/media/x/../{path.split('/media/', 1)[1]}#frag")
    synced.reset_log()
    response = play(support_client, recording)
    assert response.status_code == 200
    assert [r.path for r in synced.requests_log] == [path]


def test_a_malformed_url_in_a_zip_is_reported_and_the_archive_is_whole(synced, auditor_client, tmp_path):
    recordings = list(Recording.objects.order_by("pk"))
    Recording.objects.filter(pk=recordings[0].pk).update(recording_url="http://127.0.0.1:99999/r.mp3")
    Recording.objects.filter(pk=recordings[1].pk).update(recording_url="http://[::1/x")
    response = auditor_client.post("/recordings/download.zip", {"selected": [r.recording_id for r in recordings]})
    path = tmp_path / "r.zip"
    path.write_bytes(b"".join(response.streaming_content))
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert len(archive.namelist()) == len(recordings) - 2 + 2  # and MISSING.txt, MANIFEST.csv
        report = archive.read("MISSING.txt").decode()
    assert report.count("not a valid URL") == 2


# -- redirects ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.2:{port}\\@{host}/r.mp3",
        "//127.0.0.2:{port}\\@{host}/r.mp3",
        "http://x:y@127.0.0.2:{port}/r.mp3",
        "http://127.0.0.2:{port}/r .mp3",
        "http://127.0.0.1:99999/r.mp3",
    ],
)
def test_a_hostile_redirect_is_refused_and_the_credentials_stay_home(synced, support_client, listener, location):
    handler, port = listener
    recording = Recording.objects.order_by("pk").first()
    synced.media_redirect = location.format(port=port, host=fake_host(synced))
    response = play(support_client, recording)
    assert response.status_code == 403
    assert b"cannot be played" in response.content
    assert handler.received == []


def test_a_redirect_within_the_allowed_hosts_keeps_the_credentials(synced, support_client):
    recording = Recording.objects.order_by("pk").first()
    synced.media_redirect = "allowed"
    response = play(support_client, recording)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert len(body) == int(response["Content-Length"]) > 0
    assert synced.requests_log[-1].path.startswith("/storage/")  # which answers 401 without credentials


def test_a_redirect_to_an_outside_storage_host_is_followed_without_the_credentials(
    synced, support_client, public_loopback
):
    recording = Recording.objects.order_by("pk").first()
    storage = synced.start_outside_storage()  # on 127.0.0.3, needs no credentials (a pre-signed URL)
    synced.media_redirect = "outside"
    response = play(support_client, recording, HTTP_RANGE="bytes=0-99")
    assert response.status_code == 206
    assert len(b"".join(response.streaming_content)) == 100
    (request,) = storage.received
    assert "X-Auth-Token" not in request and "X-Auth-ID" not in request
    assert request["Range"] == "bytes=0-99"
    assert AUTH_TOKEN not in str(request)


def test_an_outside_redirect_back_to_vobiz_does_not_pick_the_credentials_up_again(
    synced, support_client, public_loopback
):
    recording = Recording.objects.order_by("pk").first()
    storage = synced.start_outside_storage(redirect_to=recording.recording_url)
    synced.media_redirect = "outside"
    response = play(support_client, recording)
    # Vobiz's media answers 401 without credentials: the dashboard says it could not fetch it.
    assert response.status_code == 502
    assert len(storage.received) == 1


def test_an_outside_redirect_is_refused_when_the_host_is_inside_the_network(synced, support_client):
    recording = Recording.objects.order_by("pk").first()
    storage = synced.start_outside_storage()
    synced.media_redirect = "outside"
    response = play(support_client, recording)
    assert response.status_code == 403
    assert b"inside the network" in response.content
    assert storage.received == []


# -- addresses ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "::1", "fd00::1", "224.0.0.1"],
)
def test_the_production_policy_refuses_addresses_inside_the_network(address):
    assert not is_public(ipaddress.ip_address(address))


def test_the_production_policy_accepts_a_public_address():
    assert is_public(ipaddress.ip_address("93.184.216.34"))


def rebinding_resolver(name, first, later):
    """getaddrinfo that answers `name` with `first` once, then with `later` (DNS rebinding)."""
    real = socket.getaddrinfo
    answers = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return real(host, port, *args, **kwargs)
        answers.append(first if not answers else later)
        return real(answers[-1], port, *args, **kwargs)

    return getaddrinfo, answers


def test_the_connection_goes_to_the_address_that_was_checked(
    synced, support_client, listener, public_loopback, monkeypatch, settings
):
    handler, port = listener
    settings.VOBIZ_MEDIA_HOSTS = ["*.vobiz.test"]
    # The fake Vobiz answers on 127.0.0.1 (public in this test); the listener is on 127.0.0.2 on
    # the same port, inside the network: the name points there on a second look.
    getaddrinfo, answers = rebinding_resolver("media.vobiz.test", "127.0.0.1", "127.0.0.2")
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    listener_on_fake_port = ThreadingHTTPServer(("127.0.0.2", synced.port), handler)
    threading.Thread(target=listener_on_fake_port.serve_forever, daemon=True).start()
    try:
        recording = Recording.objects.order_by("pk").first()
        point_at(recording.recording_url.replace("127.0.0.1", "media.vobiz.test"))
        response = play(support_client, recording)
        body = b"".join(response.streaming_content)
    finally:
        listener_on_fake_port.shutdown()
        listener_on_fake_port.server_close()
    assert response.status_code == 200 and len(body) > 100
    assert answers == ["127.0.0.1"]
    assert handler.received == []
    assert synced.requests_log[-1].headers["Host"] == f"media.vobiz.test:{synced.port}"


def test_an_allowed_wildcard_name_leading_inside_the_network_is_refused(synced, support_client, settings, monkeypatch):
    settings.VOBIZ_MEDIA_HOSTS = ["*.vobiz.test"]
    getaddrinfo, _ = rebinding_resolver("media.vobiz.test", "10.0.0.7", "10.0.0.7")
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    response = play(support_client, point_at("http://media.vobiz.test/r.mp3"))
    assert response.status_code == 403
    assert b"inside the network" in response.content


# -- TLS keeps the name ---------------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS listener on 127.0.0.1 with a certificate for media.vobiz.test only, and its CA file."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=media.vobiz.test",
            "-addext", "subjectAltName=DNS:media.vobiz.test", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    handler = type("Handler", (Listener,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server_names = []
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port, str(cert), handler, server_names
    server.shutdown()
    server.server_close()


def test_tls_is_checked_against_the_name_while_connecting_to_the_checked_address(tls_server, public_loopback, settings):
    port, ca_file, handler, server_names = tls_server
    settings.VOBIZ_MEDIA_HOSTS = ["*.vobiz.test"]
    target = media.check(f"https://media.vobiz.test:{port}/r.mp3", resolve=lambda host, port: ["127.0.0.1"])
    with VobizClient(AUTH_ID, AUTH_TOKEN, "http://127.0.0.1:1/api/v1", max_attempts=1) as client:
        client.media_session.verify = ca_file
        response = client.open_media(target)
        assert (response.status_code, response.content) == (200, b"audio")
    assert server_names == ["media.vobiz.test"]
    assert handler.received[0]["Host"] == f"media.vobiz.test:{port}"


def test_a_certificate_for_another_name_is_refused(tls_server, public_loopback, settings):
    port, ca_file, handler, _ = tls_server
    settings.VOBIZ_MEDIA_HOSTS = ["*.vobiz.test"]
    target = media.check(f"https://other.vobiz.test:{port}/r.mp3", resolve=lambda host, port: ["127.0.0.1"])
    with VobizClient(AUTH_ID, AUTH_TOKEN, "http://127.0.0.1:1/api/v1", max_attempts=1) as client:
        client.media_session.verify = ca_file
        with pytest.raises(Exception) as refused:
            client.open_media(target)
    assert "SSL" in type(refused.value).__name__ or "SSL" in str(refused.value)
    assert handler.received == []


# -- any text at all ------------------------------------------------------------------------------

URL_PIECES = st.sampled_from(
    ["http://", "https://", "//", "[", "]", ":", "@", "\\", "/", "?", "#", "%", "%00", "..", "::1", "65536", "0",
     "xn--", "ü", "api.vobiz.ai", "127.0.0.1", " ", "\t", "\x00", "a", "1"]
)  # fmt: skip


@override_settings(VOBIZ_MEDIA_HOSTS=["*"])  # every host allowed: as much text as can be reaches the rebuild
@given(st.one_of(st.text(max_size=60), st.lists(URL_PIECES, max_size=12).map("".join)))
@hypothesis_settings(max_examples=200, deadline=None)
def test_any_text_is_a_target_or_a_clear_refusal(text):
    try:
        target = media.check(text, resolve=lambda host, port: ["93.184.216.34"])
    except MediaRefused as refused:
        assert str(refused)
    else:
        assert parse_url(target.url.url) == target.url  # what is fetched reads back the same
        assert bad_character(target.url.url) is None and target.url.auth is None


def test_the_connection_to_vobiz_is_closed_with_the_response(synced, support_client, monkeypatch):
    closed = []
    real_close = VobizClient.close
    monkeypatch.setattr(VobizClient, "close", lambda client: closed.append(client) or real_close(client))
    recording = Recording.objects.order_by("pk").first()
    response = play(support_client, recording)
    assert closed == []  # still streaming
    b"".join(response.streaming_content)
    assert len(closed) == 1
    synced.inject("500", times=5, path_contains="/media/")
    assert play(support_client, recording).status_code == 502
    assert len(closed) == 2
