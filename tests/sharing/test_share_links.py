"""Share links: made by auditors and users given "share", opened without an account, logged,
revoked, refused alike whatever the reason, rate limited."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from recordings.models import AuditEvent, Recording, ShareLink
from recordings.sharing import links
from tests.conftest import AUTH_ID, AUTH_TOKEN
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action
LINK = re.compile(r'value="(http://testserver/s/([A-Za-z0-9_-]+))"')


@pytest.fixture
def fake_account() -> FakeAccount:
    return FakeAccount(count=4, seed=5, auth_id=AUTH_ID, auth_token=AUTH_TOKEN, max_audio_seconds=2)


def share(client: Client, recording: Recording, **fields: object) -> tuple[str, str]:
    """Make a link through the page; its URL and token."""
    data = {"note": "Priya, the customer's lawyer", "hours": 24, "start": "", **fields}
    made = client.post(f"/recordings/{recording.recording_id}/share", data)
    assert made.status_code == 302, made.content
    response = client.get(made["Location"])
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    match = LINK.search(response.content.decode())
    assert match, response.content
    return match[1], match[2]


def test_an_auditor_makes_a_link_whose_token_is_kept_only_hashed(synced, auditor_client) -> None:
    recording = Recording.objects.first()
    url, token = share(auditor_client, recording, start="0:01", show_numbers="on")
    link = ShareLink.objects.get()
    assert len(token) == 22  # 16 random bytes, URL-safe
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(ShareLink.objects.values().get())
    assert link.start_ms == 1000 and link.show_numbers and link.note == "Priya, the customer's lawyer"
    assert timedelta(hours=23, minutes=59) < link.expires_at - timezone.now() <= timedelta(hours=24)
    event = AuditEvent.objects.get(action=Action.SHARE)
    assert event.recording == recording and event.username == "ada" and f"Share link {link.pk}" in event.note


def test_support_cannot_share_unless_given_the_permission(synced, support_client, support_user) -> None:
    recording = Recording.objects.first()
    assert (
        support_client.post(f"/recordings/{recording.recording_id}/share", {"note": "x", "hours": 1}).status_code == 403
    )
    assert b"Share links" not in support_client.get(f"/recordings/{recording.recording_id}/").content
    support_user.user_permissions.add(Permission.objects.get(codename="share"))
    support_client.force_login(type(support_user).objects.get(pk=support_user.pk))
    assert b"Share links" in support_client.get(f"/recordings/{recording.recording_id}/").content
    share(support_client, recording)
    assert ShareLink.objects.get().username == "sky"


@pytest.mark.parametrize("hours", [0, 169, "a"])
def test_a_link_lasts_at_most_seven_days(synced, auditor_client, hours) -> None:
    recording = Recording.objects.first()
    response = auditor_client.post(f"/recordings/{recording.recording_id}/share", {"note": "x", "hours": hours})
    assert response.status_code == 302
    assert not ShareLink.objects.exists()


def test_the_page_shows_a_player_and_the_date_and_nothing_else(synced, auditor_client) -> None:
    recording = Recording.objects.first()
    url, token = share(auditor_client, recording, start="1:05")
    visitor = Client(REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="Visitor/1")
    response = visitor.get(f"/s/{token}")
    assert response.status_code == 200
    page = response.content.decode()
    assert f'src="/s/{token}/audio#t=65"' in page
    assert recording.recording_id not in page and recording.call_uuid not in page
    assert recording.from_number[-6:] not in page and recording.to_number[-6:] not in page
    addresses = set(re.findall(r'(?:href|src)="([^"]*)"', page))
    assert {address for address in addresses if not address.startswith("/static/")} == {
        f"/s/{token}/audio#t=65",
        f"/s/{token}/audio",
    }
    assert "<nav" not in page and "<form" not in page and "<script" not in page
    assert response["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response["X-Robots-Tag"]
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action=Action.SHARE_OPEN)
    assert event.ip_address == "198.51.100.7" and event.user is None and event.user_agent == "Visitor/1"
    assert event.recording == recording and f"Share link {ShareLink.objects.get().pk}" in event.note
    assert ShareLink.objects.get().opens == 1


def test_numbers_show_only_when_the_sharer_chose(synced, auditor_client) -> None:
    recording = Recording.objects.exclude(from_number="").first()
    _, token = share(auditor_client, recording, show_numbers="on")
    shown = re.sub(r"\D", "", Client().get(f"/s/{token}").content.decode())
    assert re.sub(r"\D", "", recording.from_number) in shown
    _, hidden = share(auditor_client, recording)
    assert re.sub(r"\D", "", recording.from_number) not in re.sub(
        r"\D", "", Client().get(f"/s/{hidden}").content.decode()
    )


def test_audio_streams_with_ranges_and_each_playback_is_logged(synced, auditor_client) -> None:
    recording = Recording.objects.filter(recording_format="wav").first() or Recording.objects.first()
    _, token = share(auditor_client, recording)
    visitor = Client(REMOTE_ADDR="198.51.100.8")
    whole = visitor.get(f"/s/{token}/audio")
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    body = b"".join(whole.streaming_content)
    assert len(body) == int(whole["Content-Length"]) > 100
    part = visitor.get(f"/s/{token}/audio", HTTP_RANGE="bytes=10-99")
    assert part.status_code == 206
    assert b"".join(part.streaming_content) == body[10:100]
    assert "no-store" in part["Cache-Control"]
    plays = AuditEvent.objects.filter(action=Action.SHARE_PLAY)
    assert plays.count() == 1  # the part from byte 10 is the same playback's
    assert plays.get().ip_address == "198.51.100.8"


def refusal(token: str, path: str = "") -> tuple[int, bytes]:
    response = Client().get(f"/s/{token}{path}")
    return response.status_code, response.content


def test_expired_revoked_deleted_and_unknown_links_get_the_same_answer(synced, auditor_client) -> None:
    first, second, third = Recording.objects.all()[:3]
    _, expired = share(auditor_client, first)
    ShareLink.objects.filter(recording=first).update(expires_at=timezone.now() - timedelta(seconds=1))
    _, revoked = share(auditor_client, second)
    link = ShareLink.objects.get(recording=second)
    response = auditor_client.post(f"/shares/{link.pk}/revoke")
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action=Action.SHARE_REVOKE, recording=second).exists()
    _, deleted = share(auditor_client, third)
    Recording.objects.filter(pk=third.pk).update(deleted_at=timezone.now())
    unknown = links.secrets.token_urlsafe(16)
    answers = {refusal(token, path) for token in (expired, revoked, deleted, unknown, "x") for path in ("", "/audio")}
    assert len(answers) == 1
    status, _ = answers.pop()
    assert status == 404
    assert not AuditEvent.objects.filter(action__in=[Action.SHARE_OPEN, Action.SHARE_PLAY]).exists()


def test_a_held_recording_can_be_shared_a_deleted_one_cannot(synced, auditor_client) -> None:
    held, deleted = Recording.objects.all()[:2]
    auditor_client.post(f"/recordings/{held.recording_id}/hold", {"reason": "court"})
    share(auditor_client, held)
    Recording.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    response = auditor_client.post(f"/recordings/{deleted.recording_id}/share", {"note": "x", "hours": 2}, follow=True)
    assert b"cannot be shared" in response.content
    assert ShareLink.objects.filter(recording=deleted).count() == 0


def test_the_recordings_page_lists_its_links_with_their_opens(synced, auditor_client) -> None:
    recording = Recording.objects.first()
    _, token = share(auditor_client, recording, note="Ravi at the bank")
    Client().get(f"/s/{token}")
    Client().get(f"/s/{token}")
    page = auditor_client.get(f"/recordings/{recording.recording_id}/").content.decode()
    row = re.search(r'<li data-share-link="\d+">.*?</li>', page, re.S)
    assert row and "Ravi at the bank" in row[0] and "opened 2 times" in row[0] and "Revoke" in row[0]
    assert token not in page


def test_rate_limits_per_link_and_per_address(synced, auditor_client, monkeypatch) -> None:
    recording = Recording.objects.first()
    _, token = share(auditor_client, recording)
    _, other = share(auditor_client, recording)
    monkeypatch.setattr(links, "PER_ADDRESS", (3, timedelta(minutes=10)))
    monkeypatch.setattr(links, "PER_LINK", (6, timedelta(hours=1)))  # 4 used from one address
    same_address = Client(REMOTE_ADDR="198.51.100.9")
    assert [same_address.get(f"/s/{token}").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert same_address.get(f"/s/{other}").status_code == 429  # the address is over, whichever link
    assert [Client(REMOTE_ADDR=f"198.51.100.{n}").get(f"/s/{token}").status_code for n in (10, 11, 12)] == [
        200,
        200,
        429,
    ]  # the link is over, whichever address
    assert Client(REMOTE_ADDR="198.51.100.13").get(f"/s/{other}").status_code == 200


def test_reloading_after_making_a_link_makes_no_second_one_and_shows_the_token_no_more(synced, auditor_client) -> None:
    recording = Recording.objects.first()
    data = {"note": "Priya", "hours": 24, "start": ""}
    made = auditor_client.post(f"/recordings/{recording.recording_id}/share", data)
    shown = auditor_client.get(made["Location"])
    (token,) = re.findall(r"/s/([A-Za-z0-9_-]{22})", shown.content.decode())
    again = auditor_client.get(made["Location"], follow=True)
    assert ShareLink.objects.count() == 1
    assert token not in again.content.decode()
    assert "was shown once, when it was made" in again.content.decode()


def test_the_address_limit_counts_an_ipv6_subscriber_by_its_64(synced, auditor_client, monkeypatch) -> None:
    recording = Recording.objects.first()
    _, token = share(auditor_client, recording)
    monkeypatch.setattr(links, "PER_ADDRESS", (2, timedelta(minutes=10)))
    statuses = [Client(REMOTE_ADDR=f"2001:db8:1:2::{n:x}").get(f"/s/{token}").status_code for n in (1, 2, 3)]
    assert statuses == [200, 200, 429]  # every address of one /64 counts as one
    assert Client(REMOTE_ADDR="2001:db8:1:3::1").get(f"/s/{token}").status_code == 200
    assert links.address_key("::ffff:198.51.100.9") == "198.51.100.9" and links.address_key("bad") == "bad"


def test_a_refused_visitor_is_logged_without_the_token(synced, auditor_client, monkeypatch, caplog) -> None:
    recording = Recording.objects.first()
    _, token = share(auditor_client, recording)
    monkeypatch.setattr(links, "PER_ADDRESS", (1, timedelta(minutes=10)))
    visitor = Client(REMOTE_ADDR="198.51.100.20")
    with caplog.at_level("INFO"):
        visitor.get(f"/s/{token}")
        assert visitor.get(f"/s/{token}/audio").status_code == 429
    logged = [record.getMessage() for record in caplog.records]
    assert "Too Many Requests: /s/<token>/audio" in logged
    assert not any(token in message for message in logged)
