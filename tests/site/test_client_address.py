"""The client's address is the one the nearest trusted proxy saw, and sign-in lockouts are per
username and address together."""

import pytest
from django.test import RequestFactory

from recordings.audit_trail import client_ip
from recordings.models import AuditEvent
from tests.conftest import user_in_role
from tests.factories import make_recording

pytestmark = pytest.mark.django_db


def request_from(remote, forwarded=None):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **headers)


@pytest.mark.parametrize(
    "proxies, forwarded, expected",
    [
        (0, "6.6.6.6", "10.0.0.2"),  # no proxy configured: X-Forwarded-For is the client's own text
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the client wrote 6.6.6.6; the proxy appended .9
        (1, "203.0.113.9", "203.0.113.9"),
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.5", "203.0.113.9"),
        (2, "203.0.113.9", "203.0.113.9"),  # fewer hops than proxies: the leftmost a proxy wrote
        (1, "", "10.0.0.2"),
        (1, None, "10.0.0.2"),
        (1, "6.6.6.6, not-an-address", "10.0.0.2"),
        (1, "2001:db8::7", "2001:db8::7"),
    ],
)
def test_the_address_is_the_one_the_nearest_trusted_proxy_saw(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(request_from("10.0.0.2", forwarded)) == expected


def sign_in(client, username, password, forwarded):
    return client.post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_rotating_x_forwarded_for_does_not_escape_the_lockout(client, django_user_model, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    user_in_role(django_user_model, "victim", "Support")
    for attempt in range(24):
        sign_in(client, "victim", "wrong", forwarded=f"198.51.100.{attempt}, 203.0.113.9")
    response = sign_in(client, "victim", "pw", forwarded="198.51.100.99, 203.0.113.9")
    assert response.status_code == 429
    assert b"Too many failed sign-ins" in response.content
    assert "_auth_user_id" not in client.session


def test_typing_someones_name_elsewhere_does_not_lock_them_out(client, django_user_model, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    user_in_role(django_user_model, "auditor", "Auditors")
    for _ in range(10):
        sign_in(client, "auditor", "wrong", forwarded="203.0.113.66")
    assert sign_in(client, "auditor", "wrong", forwarded="203.0.113.66").status_code == 429
    assert sign_in(client, "auditor", "pw", forwarded="198.51.100.7").status_code == 302


def test_the_audit_log_records_the_address_the_proxy_saw(auditor_client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    recording = make_recording()
    auditor_client.post(
        f"/recordings/{recording.recording_id}/review",
        {"state": "reviewed", "note": ""},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
    )
    assert AuditEvent.objects.get().ip_address == "203.0.113.9"


def test_the_old_setting_that_trusted_the_leftmost_address_is_refused_with_a_clear_message():
    from tests.site.test_security import manage

    result = manage("check", DJANGO_DEBUG="1", TRUST_X_FORWARDED_FOR="1")
    assert result.returncode != 0
    assert "set TRUSTED_PROXY_COUNT" in result.stderr and "Traceback" not in result.stderr
