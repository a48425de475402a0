"""With REDIS_URL set, counts, rendered filter forms and per-user limits are shared in Redis; while
Redis does not answer, every page still does, from the process's own memory."""

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import redis
import requests
from django.conf import settings as django_settings
from django.core.cache import caches

from recordings import concurrency, shared_cache
from recordings.models import Recording

pytestmark = pytest.mark.django_db

# Redis runs beside the tests (CI's machine has it); a developer points them at a database of their own.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Relay:
    """A TCP relay to the test Redis that can be cut: to the dashboard, Redis stopping mid-run
    (the machine's Redis itself is left running)."""

    def __init__(self, port: int = 0) -> None:
        target = urlsplit(TEST_REDIS_URL)
        self.target = (target.hostname or "127.0.0.1", target.port or 6379)
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}{target.path}"
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                near, _ = self.listener.accept()
            except OSError:  # cut
                return
            far = socket.create_connection(self.target)
            self.sockets += [near, far]
            threading.Thread(target=self.pump, args=(near, far), daemon=True).start()
            threading.Thread(target=self.pump, args=(far, near), daemon=True).start()

    def pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def cut(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def shared_in(settings, url: str) -> None:
    """The production settings' caches with REDIS_URL set to `url`."""
    settings.REDIS_URL = url
    settings.CACHES = {
        name: {
            "BACKEND": "recordings.shared_cache.FallbackRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": name,
            "FALLBACK_OPTIONS": {},
        }
        for name in ("default", "template_fragments")
    } | {"searched_fragments": django_settings.CACHES["searched_fragments"]}


@pytest.fixture
def test_redis():
    """The test Redis database, emptied before and after."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture(autouse=True)
def redis_answers_again():
    """Each test starts with no Redis marked out of reach by another."""
    shared_cache.down_until.clear()
    concurrency.shared_places.cache_clear()


@pytest.fixture
def retry_at_once(monkeypatch):
    """Redis asked again on the next call after a failure, not after a pause."""
    monkeypatch.setattr(shared_cache, "RETRY_SECONDS", 0)
    monkeypatch.setattr(concurrency, "RETRY_SECONDS", 0)


def finish(response):
    b"".join(response.streaming_content)


def audio(client, recording):
    return client.get(f"/recordings/{recording.recording_id}/audio")


def test_a_redis_url_that_is_not_one_is_refused_clearly_without_showing_it():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env |= {"DJANGO_DEBUG": "1", "REDIS_URL": "secret-password@127.0.0.1:6379"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "REDIS_URL must be a redis://, rediss:// or unix:// URL" in result.stderr
    assert "Traceback" not in result.stderr and "secret-password" not in result.stderr


@pytest.mark.parametrize(
    "url, said",
    [
        ("redis://:secret-password@127.0.0.1:abc/0", "REDIS_URL cannot be read"),
        ("redis://:secret-password@127.0.0.1:6379/cache", "REDIS_URL's path must be a database number"),
    ],
)
def test_a_redis_url_redis_cannot_read_is_refused_clearly_without_showing_it(url, said):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env |= {"DJANGO_DEBUG": "1", "REDIS_URL": url}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert said in result.stderr
    assert "Traceback" not in result.stderr and "secret-password" not in result.stderr


def test_a_url_redis_py_cannot_read_costs_no_page(synced, support_client, settings):
    """Should one get past the settings all the same, caches and limits keep to the process."""
    shared_in(settings, "redis://127.0.0.1:abc/0")
    settings.STREAMS_PER_USER = 1
    assert support_client.get("/").status_code == 200
    assert support_client.get("/count").json()["count"] == Recording.objects.count()
    first, second = Recording.objects.all()[:2]
    playing = audio(support_client, first)
    assert playing.status_code == 200
    assert audio(support_client, second).status_code == 429
    finish(playing)


def test_the_last_place_goes_to_whoever_redis_runs_first_whatever_the_clocks_read(
    support_user, settings, test_redis, monkeypatch
):
    shared_in(settings, TEST_REDIS_URL)
    key = f"running:stream:{support_user.pk}"
    # The first to take it reads a later time than the second, who runs after it: the first keeps it.
    clock = iter([2_000_000_000.0, 1_000_000_000.0])
    monkeypatch.setattr(time, "time", lambda: next(clock, 1_000_000_000.0))
    first = concurrency.acquire("stream", support_user.pk, 1)
    with pytest.raises(concurrency.TooMany):
        concurrency.acquire("stream", support_user.pk, 1)
    assert [m.decode() for m in test_redis.zrange(key, 0, -1)] == [first.member]
    # A machine whose clock runs an hour and more ahead does not drop a place still held.
    monkeypatch.setattr(time, "time", lambda: 4_000_000_000.0)
    with pytest.raises(concurrency.TooMany):
        concurrency.acquire("stream", support_user.pk, 1)
    first.release()
    assert test_redis.zcard(key) == 0


def test_places_lapse_by_redis_clock(support_user, settings, test_redis, monkeypatch):
    shared_in(settings, TEST_REDIS_URL)
    key = f"running:stream:{support_user.pk}"
    redis_now = float(test_redis.time()[0])
    test_redis.zadd(key, {"lapsed": redis_now - 1, "held": redis_now + 600})
    monkeypatch.setattr(time, "time", lambda: 0.0)  # a machine whose clock is far behind
    slot = concurrency.acquire("stream", support_user.pk, 2)
    assert sorted(m.decode() for m in test_redis.zrange(key, 0, -1)) == sorted(["held", slot.member])
    with pytest.raises(concurrency.TooMany):
        concurrency.acquire("stream", support_user.pk, 2)
    assert test_redis.zcard(key) == 2  # the one refused left nothing behind
    assert 0 < test_redis.ttl(key) <= concurrency.SLOT_SECONDS


def test_clearing_a_cache_leaves_the_queue_and_the_other_caches(settings, test_redis):
    shared_in(settings, TEST_REDIS_URL)
    test_redis.set("rq:queue:default", "a queued job")
    caches["default"].set("count", 7)
    caches["template_fragments"].set("form", "<form>")
    caches["default"].clear()
    assert caches["default"].get("count") is None
    assert caches["template_fragments"].get("form") == "<form>"
    assert test_redis.get("rq:queue:default") == b"a queued job"


def test_one_threads_failure_spares_the_other_threads_the_wait(settings, caplog):
    """Django makes a cache backend per thread: Redis out of reach is known to them all at once."""
    shared_in(settings, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    caplog.set_level(logging.WARNING, logger="recordings")
    caches["default"].set("count", 7)  # fails, and marks Redis out of reach

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(lambda: caches["default"]).result() is not caches["default"]
        assert pool.submit(lambda: caches["default"].get("count")).result() == 7
    assert caplog.text.count("Redis does not answer") == 1


def test_counts_forms_and_open_streams_are_kept_in_redis(synced, support_client, support_user, settings, test_redis):
    shared_in(settings, TEST_REDIS_URL)
    assert support_client.get("/").status_code == 200
    assert test_redis.keys("default:*") and test_redis.keys("template_fragments:*")
    recording = Recording.objects.first()
    playing = audio(support_client, recording)
    assert playing.status_code == 200
    assert test_redis.zcard(f"running:stream:{support_user.pk}") == 1
    finish(playing)
    assert test_redis.zcard(f"running:stream:{support_user.pk}") == 0


def test_a_filter_form_with_words_searched_is_kept_only_in_the_process(synced, support_client, settings, test_redis):
    """Each search would be a new entry in Redis, and its HTML would hold what was searched for."""
    shared_in(settings, TEST_REDIS_URL)
    assert support_client.get("/?transcript=confidential+words").status_code == 200
    assert support_client.get("/?q=64144").status_code == 200
    assert test_redis.keys("template_fragments:*") == []
    assert b"confidential words" not in b"".join(test_redis.dump(key) or b"" for key in test_redis.keys("*"))
    assert support_client.get("/?per_page=25").status_code == 200
    assert len(test_redis.keys("template_fragments:*")) == 1


def test_a_place_lapses_when_its_process_never_gave_it_back(support_user, settings, test_redis):
    """A process killed mid-stream never releases its place: it lapses SLOT_SECONDS after it was taken."""
    shared_in(settings, TEST_REDIS_URL)
    key = f"running:stream:{support_user.pk}"
    test_redis.zadd(key, {"killed-process": time.time() - 1})  # taken SLOT_SECONDS and a second ago
    concurrency.acquire("stream", support_user.pk, 1).release()
    assert test_redis.zcard(key) == 0


def test_with_redis_out_of_reach_every_page_answers_and_limits_hold_per_process(
    synced, support_client, settings, caplog
):
    shared_in(settings, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    settings.STREAMS_PER_USER = 1
    caplog.set_level(logging.WARNING, logger="recordings")
    assert support_client.get("/").status_code == 200
    assert support_client.get("/count").json()["count"] == Recording.objects.count()
    first, second = Recording.objects.all()[:2]
    playing = audio(support_client, first)
    assert playing.status_code == 200
    refused = audio(support_client, second)
    assert refused.status_code == 429 and b"1 audio streams" in refused.content
    finish(playing)
    again = audio(support_client, second)
    assert again.status_code == 200
    finish(again)
    said = caplog.text
    assert "cache default: Redis does not answer" in said and "limits: Redis does not answer" in said


def test_redis_stopped_mid_run_costs_no_page_and_no_place(
    synced, support_client, support_user, settings, test_redis, retry_at_once
):
    relay = Relay()
    shared_in(settings, relay.url)
    settings.STREAMS_PER_USER = 2
    key = f"running:stream:{support_user.pk}"
    total = Recording.objects.count()
    first, second, third = Recording.objects.all()[:3]
    assert support_client.get("/count").json()["count"] == total
    playing = audio(support_client, first)  # its place taken in Redis
    assert test_redis.zcard(key) == 1

    relay.cut()
    assert support_client.get("/").status_code == 200
    assert support_client.get("/count").json()["count"] == total
    finish(playing)  # its place given back while Redis does not answer
    during = audio(support_client, second)
    assert during.status_code == 200
    finish(during)

    relay = Relay(relay.port)  # Redis answers again
    try:
        assert support_client.get("/count").json()["count"] == total
        assert test_redis.keys("default:*")
        held = [audio(support_client, r) for r in (second, third)]
        # The place given back during the outage is free again: both new ones fit.
        assert [r.status_code for r in held] == [200, 200]
        assert test_redis.zcard(key) == 2
        for response in held:
            finish(response)
        assert test_redis.zcard(key) == 0
    finally:
        relay.cut()


# -- two web servers --------------------------------------------------------------------------------


def start_gunicorn(env, port):
    command = [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "vobiz_dashboard.wsgi"]
    command += ["--worker-class", "gthread", "--workers", "1", "--threads", "4", "--bind", f"127.0.0.1:{port}"]
    return subprocess.Popen(
        command, cwd=django_settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def wait_for(url, process):
    deadline = time.monotonic() + 120  # a worker loads Django on its first request: slow on a busy machine
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn ended"
        try:
            requests.get(url, timeout=60)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def until(condition):
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_one_users_open_streams_are_limited_across_two_gunicorn_servers(
    synced, support_client, support_user, subprocess_env, test_redis
):
    env = subprocess_env | {
        "DJANGO_SETTINGS_MODULE": "vobiz_dashboard.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "REDIS_URL": TEST_REDIS_URL,
        "STREAMS_PER_USER": "2",
    }
    cookies = {django_settings.SESSION_COOKIE_NAME: support_client.cookies[django_settings.SESSION_COOKIE_NAME].value}
    ports = [free_port(), free_port()]
    servers = [start_gunicorn(env, port) for port in ports]
    try:
        for port, server in zip(ports, servers, strict=True):
            wait_for(f"http://127.0.0.1:{port}/accounts/login/", server)
        first, second, third = Recording.objects.all()[:3]

        def play(port, recording):
            url = f"http://127.0.0.1:{port}/recordings/{recording.recording_id}/audio"
            return requests.get(url, cookies=cookies, timeout=60)

        # One stream on each server, each held open while Vobiz is slow to send the audio.
        synced.stall_seconds = 15.0
        synced.inject("stall", times=2, path_contains="/media/")
        synced.reset_log()
        with ThreadPoolExecutor(2) as pool:
            held = [pool.submit(play, ports[0], first), pool.submit(play, ports[1], second)]
            until(lambda: len([r for r in synced.requests_log if "/media/" in r.path]) == 2)
            refused = [play(port, third) for port in ports]
            assert [r.status_code for r in refused] == [429, 429]
            assert "2 audio streams" in refused[0].text
            assert [future.result().status_code for future in held] == [200, 200]
        # Both finished: their places are given back once each server has closed its response, just
        # after the client has it all; then they are free on either server.
        until(lambda: test_redis.zcard(f"running:stream:{support_user.pk}") == 0)
        assert play(ports[1], third).status_code == 200
        until(lambda: test_redis.zcard(f"running:stream:{support_user.pk}") == 0)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
