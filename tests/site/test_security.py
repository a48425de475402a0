import logging
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from recordings.models import Recording
from recordings.sync.run import sync_recordings
from recordings.sync.walk import SyncError, SyncOptions
from tests.conftest import AUTH_ID, AUTH_TOKEN, user_in_role
from tests.factories import make_recording
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db


def manage(*args, **env):
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


PRODUCTION = {
    "DJANGO_SECRET_KEY": "x" * 30 + "a-long-random-production-secret-value",
    "DJANGO_HSTS_SECONDS": "31536000",
    "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "1",
    "DJANGO_HSTS_PRELOAD": "1",
    "DJANGO_SSL_REDIRECT": "1",
}


def test_check_deploy_reports_nothing_with_the_production_variables():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("secret", [None, "development-only-secret-key-do-not-use-in-production"])
def test_production_refuses_to_start_without_a_real_secret_key(secret):
    env = {"DJANGO_SECRET_KEY": secret} if secret else {}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr


def test_security_headers_on_every_page(support_client):
    recording = make_recording()
    for url in ["/", f"/recordings/{recording.recording_id}/", "/sync/", "/accounts/login/"]:
        response = support_client.get(url)
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
INLINE_STYLE = re.compile(r"<[^>]+\sstyle\s*=", re.I)


def test_pages_need_no_inline_script_or_style(auditor_client):
    recording = make_recording(conference_name="<b onclick=x>")
    pages = [
        "/",
        f"/recordings/{recording.recording_id}/",
        f"/calls/{recording.call_uuid}/",
        "/sync/",
        "/audit/",
        "/usage/",
        f"/recordings/{recording.recording_id}/delete",
    ]
    for url in pages:
        html = auditor_client.get(url).content.decode()
        assert not INLINE_SCRIPT.search(html), url
        assert not INLINE_HANDLER.search(html), url
        assert not INLINE_STYLE.search(html), url


# -- signing in -----------------------------------------------------------------------------------


def sign_in(client, username, password, ip="10.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_failed_sign_ins_lock_out_the_username_at_that_address(client, django_user_model):
    user_in_role(django_user_model, "victim", "Support")
    for _ in range(5):
        sign_in(client, "victim", "wrong", ip="10.0.0.10")
    response = sign_in(client, "victim", "pw", ip="10.0.0.10")
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session
    assert sign_in(client, "victim", "pw", ip="10.0.0.99").status_code == 302  # the user, elsewhere


def test_guessing_other_names_from_an_address_does_not_lock_out_a_user_there(client, django_user_model):
    user_in_role(django_user_model, "innocent", "Support")
    for attempt in range(5):
        sign_in(client, f"guess{attempt}", "wrong", ip="10.9.9.9")
    assert sign_in(client, "innocent", "pw", ip="10.9.9.9").status_code == 302


def test_sessions_expire_after_inactivity(support_client):
    support_client.get("/")
    assert support_client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE == 8 * 3600
    assert not settings.SESSION_SAVE_EVERY_REQUEST  # a write a request: SessionRefreshMiddleware does it
    assert settings.SESSION_REFRESH_SECONDS == 5 * 60


@pytest.fixture
def clock(monkeypatch):
    """Django's clock (sessions, their expiry, the refresh), moved on by hand with `clock.advance(s)`."""

    class Clock:
        offset = timedelta()

        def advance(self, seconds):
            self.offset += timedelta(seconds=seconds)

    clock, real_now = Clock(), timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + clock.offset)
    return clock


def session_writes(client, path="/"):
    """The response to `path`, and the session writes it made."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return response, [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith(("UPDATE", "INSERT")) and "django_session" in q["sql"]
    ]


def stored_expiry(client):
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_a_request_within_the_refresh_interval_does_not_write_the_session(support_client, clock):
    expiry = stored_expiry(support_client)  # signing in set it
    clock.advance(settings.SESSION_REFRESH_SECONDS - 5)  # times are kept in whole seconds: a margin
    response, writes = session_writes(support_client)
    assert writes == []
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert stored_expiry(support_client) == expiry


def test_a_request_after_the_refresh_interval_pushes_the_expiry_back(support_client, clock):
    session_writes(support_client)
    clock.advance(settings.SESSION_REFRESH_SECONDS + 1)
    response, writes = session_writes(support_client)
    assert writes
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == settings.SESSION_COOKIE_AGE
    pushed_to = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs(stored_expiry(support_client) - pushed_to) < timedelta(seconds=5)


def test_a_session_in_use_outlives_the_idle_limit(support_client, clock):
    for _ in range(3):
        clock.advance(settings.SESSION_COOKIE_AGE // 2)
        assert support_client.get("/").status_code == 200


def test_a_session_idle_past_the_limit_is_signed_out_within_the_refresh_interval(support_client, clock):
    support_client.get("/")
    clock.advance(settings.SESSION_REFRESH_SECONDS - 1)
    support_client.get("/")  # not written: the session still ends the idle limit after the request before
    clock.advance(settings.SESSION_COOKIE_AGE - settings.SESSION_REFRESH_SECONDS)
    assert support_client.get("/").status_code == 200  # idle just under the limit minus the interval
    clock.advance(settings.SESSION_COOKIE_AGE + 1)
    response = support_client.get("/")
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_a_password_change_ends_other_sessions(client, django_user_model):
    from django.test import Client

    user = user_in_role(django_user_model, "moving", "Support")
    client.force_login(user)
    assert client.get("/").status_code == 200
    user.set_password("a-brand-new-password-99")
    user.save()
    assert client.get("/").status_code == 302
    assert Client().get("/").status_code == 302


# -- health ---------------------------------------------------------------------------------------


def test_healthz_needs_no_login_and_says_ok(client):
    response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok\n")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_healthz_reports_an_unavailable_database(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr("recordings.views.health.connection.cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503 and b"database unavailable" in response.content


# -- the Vobiz token ------------------------------------------------------------------------------


@pytest.fixture
def fake_account():
    return FakeAccount(count=25, seed=4, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)


def test_the_token_appears_in_no_page_no_error_and_no_log_line(
    fake_vobiz, vobiz_client, client, django_user_model, caplog, settings
):
    caplog.set_level(logging.DEBUG)
    sync_recordings(SyncOptions(), client=vobiz_client)
    fake_vobiz.inject("401", times=1)
    with pytest.raises(SyncError):
        sync_recordings(SyncOptions(full=True), client=vobiz_client)
    fake_vobiz.inject("500", times=10, path_contains="/media/")
    admin = django_user_model.objects.create_superuser("root", password="pw")
    client.force_login(admin)
    recording = Recording.objects.first()
    client.get(f"/recordings/{recording.recording_id}/audio")
    client.post(f"/calls/{recording.call_uuid}/")
    urls = [
        "/",
        "/?_export=csv",
        f"/recordings/{recording.recording_id}/",
        f"/calls/{recording.call_uuid}/",
        "/sync/",
        "/audit/",
        "/usage/",
        "/admin/",
        "/admin/recordings/recording/",
        f"/admin/recordings/recording/{recording.pk}/change/",
        "/admin/recordings/syncrun/",
        "/admin/recordings/syncrun/1/change/",
        "/admin/recordings/calldetail/",
        "/admin/recordings/auditevent/",
    ]
    for url in urls:
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert AUTH_TOKEN.encode() not in body, url
    assert AUTH_TOKEN not in caplog.text
