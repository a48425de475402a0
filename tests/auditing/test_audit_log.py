import csv
import io
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recordings.models import AuditEvent, Recording
from tests.conftest import AUTH_ID, AUTH_TOKEN
from tests.factories import make_recording, make_recordings
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db

Action = AuditEvent.Action
NOON = datetime(2026, 5, 10, 12, 0, tzinfo=dt_timezone.utc)


def make_event(action=Action.PLAY, recording=None, username="sky", at=NOON, **fields):
    fields.setdefault("call_uuid", recording.call_uuid if recording else "")
    return AuditEvent.objects.create(at=at, username=username, action=action, recording=recording, **fields)


def rows(response):
    return [row.record.pk for row in response.context["table"].page.object_list]


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_support_staff_are_refused_the_log_and_its_export(support_client):
    assert support_client.get("/audit/").status_code == 403
    assert support_client.get("/audit/", {"_export": "csv"}).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for params in [{}, {"_export": "csv"}]:
        response = client.get("/audit/", params)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_auditors_see_every_action_newest_first_with_the_count(auditor_client):
    recording = make_recording()
    old = make_event(Action.PLAY, recording, at=NOON - timedelta(days=1))
    new = make_event(Action.FLAG, recording, username="ada", note="abusive caller")
    response = auditor_client.get("/audit/")
    assert response.status_code == 200
    assert rows(response) == [new.pk, old.pk]
    content = response.content.decode()
    assert "<strong>2</strong> events" in content
    assert f'href="/recordings/{recording.recording_id}/"' in content
    assert f'href="/calls/{recording.call_uuid}/"' in content
    assert '<span class="badge badge-red">Flagged</span>' in content
    assert "abusive caller" in content


def test_each_filter_narrows_the_log(auditor_client):
    first, second = make_recording(), make_recording()
    played = make_event(Action.PLAY, first, username="skyler")
    downloaded = make_event(Action.DOWNLOAD, second, username="sky")
    reviewed = make_event(Action.REVIEW, second, username="ada")
    call_hold = make_event(Action.HOLD, username="ada", call_uuid="call-on-hold")
    early = make_event(Action.PLAY, first, username="bo", at=datetime(2025, 3, 2, 12, 0, tzinfo=dt_timezone.utc))
    get = lambda **params: set(rows(auditor_client.get("/audit/", params)))  # noqa: E731
    assert get(user="sky") == {played.pk, downloaded.pk}  # part of a username is enough
    assert get(user="SKYLER") == {played.pk}
    assert get(recording=second.recording_id) == {downloaded.pk, reviewed.pk}
    assert get(call_uuid="call-on-hold") == {call_hold.pk}
    assert get(action="review") == {reviewed.pk}
    assert get(action="listening") == {played.pk, downloaded.pk, early.pk}
    assert get(before="2025-03-02") == {early.pk}
    assert early.pk not in get(after="2025-03-03")
    assert get(after="2025-03-02", before="2025-03-02") == {early.pk}
    assert get(user="sky", action="download") == {downloaded.pk}


def test_dates_are_days_in_the_configured_time_zone(auditor_client, settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    late_evening_utc = make_event(at=datetime(2026, 3, 1, 20, 0, tzinfo=dt_timezone.utc))  # 2 March 01:30 in India
    make_event(at=datetime(2026, 3, 1, 12, 0, tzinfo=dt_timezone.utc))
    assert rows(auditor_client.get("/audit/", {"after": "2026-03-02"})) == [late_evening_utc.pk]
    assert b"2 Mar 2026 01:30:00 IST" in auditor_client.get("/audit/").content


def test_sorting_by_time_user_and_action(auditor_client):
    bob = make_event(Action.PLAY, username="bob", at=NOON)
    amy = make_event(Action.REVIEW, username="amy", at=NOON + timedelta(hours=1))
    cat = make_event(Action.FLAG, username="cat", at=NOON + timedelta(hours=2))
    get = lambda sort: rows(auditor_client.get("/audit/", {"sort": sort}))  # noqa: E731
    assert get("at") == [bob.pk, amy.pk, cat.pk]
    assert get("-at") == [cat.pk, amy.pk, bob.pk]
    assert get("username") == [amy.pk, bob.pk, cat.pk]
    assert get("-username") == [cat.pk, bob.pk, amy.pk]
    assert get("action") == [cat.pk, bob.pk, amy.pk]  # flag, play, review


@pytest.mark.parametrize(
    "params",
    [
        {"after": "yesterday"},
        {"before": "0001-01-01"},
        {"after": "9999-12-31"},
        {"action": "<script>"},
        {"action": "nonsense"},
        {"user": "\x00"},
        {"recording": "x" * 5000},
        {"page": "abc"},
        {"page": "-1"},
        {"page": "99999999999999999999"},
        {"per_page": "1000000"},
        {"sort": "nonsense"},
        {"sort": "user_agent"},
    ],
)
def test_bad_parameters_never_break_the_page(auditor_client, params):
    for _ in range(3):
        make_event()
    assert auditor_client.get("/audit/", params).status_code == 200
    assert auditor_client.get("/audit/", {**params, "_export": "csv"}).status_code == 200


def test_an_invalid_filter_shows_an_error_and_keeps_the_valid_ones(auditor_client):
    mine = make_event(username="ada")
    make_event(username="sky")
    response = auditor_client.get("/audit/", {"after": "not-a-date", "user": "ada"})
    assert response.context["filter"].form.errors["after"]
    assert b"field-error" in response.content
    assert rows(response) == [mine.pk]


def test_a_page_past_the_end_shows_the_last_page(auditor_client):
    for _ in range(30):
        make_event()
    response = auditor_client.get("/audit/", {"page": 50, "per_page": 25})
    assert response.context["table"].page.number == 2
    assert len(rows(response)) == 5


def test_csv_streams_the_filtered_events_only(auditor_client):
    recording = make_recording()
    make_event(Action.PLAY, recording, username="sky", ip_address="10.0.0.7", user_agent="=cmd|' /C calc'!A0")
    make_event(Action.REVIEW, recording, username="ada", note="fine")
    response = auditor_client.get("/audit/", {"action": "play", "_export": "csv"})
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="audit-log_' in response["Content-Disposition"]
    [row] = csv_rows(response)
    assert row["username"] == "sky"
    assert row["action"] == "play"
    assert row["recording_id"] == recording.recording_id
    assert row["call_uuid"] == recording.call_uuid
    assert row["ip_address"] == "10.0.0.7"
    assert row["user_agent"].startswith("'=")  # not a formula in a spreadsheet
    assert row["at"] == NOON.isoformat()


def test_csv_writes_every_value_exactly(auditor_client):
    recording = make_recording()
    at = NOON.replace(microsecond=5)
    make_event(Action.PLAY, recording, at=at, ip_address="2001:db8::1", user_agent="Mozilla/5.0 (X11, Linux)")
    make_event(Action.SYNC, username="@ada", at=NOON - timedelta(hours=1), note='full sync,\n"all" of it')
    body = b"".join(auditor_client.get("/audit/", {"_export": "csv"}).streaming_content).decode()
    export = AuditEvent.objects.get(action=Action.TABLE_EXPORT)  # the export logs itself first
    assert body == (
        "at,username,action,recording_id,call_uuid,ip_address,user_agent,note\r\n"
        f'{export.at.isoformat()},ada,table_export,,,127.0.0.1,,"2 audit events, no filter"\r\n'
        f"2026-05-10T12:00:00.000005+00:00,sky,play,{recording.recording_id},{recording.call_uuid},2001:db8::1,"
        '"Mozilla/5.0 (X11, Linux)",\r\n'
        '2026-05-10T11:00:00+00:00,\'@ada,sync,,,,,"full sync,\n""all"" of it"\r\n'
    )


def test_query_count_does_not_grow_with_page_size(auditor_client):
    for recording in make_recordings(120):
        make_event(Action.PLAY, recording)
    counts = []
    for per_page in (25, 100):
        with CaptureQueriesContext(connection) as queries:
            response = auditor_client.get("/audit/", {"per_page": per_page})
        assert len(rows(response)) == per_page
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_long_user_agents_are_shortened_with_the_whole_text_on_hover(auditor_client):
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
    make_event(user_agent=agent)
    content = auditor_client.get("/audit/").content.decode()
    assert f'title="{agent}"' in content
    assert f">{agent}<" not in content


def test_html_in_logged_fields_is_escaped(auditor_client):
    make_event(user_agent="<script>alert(1)</script>", note="<img src=x onerror=alert(2)>")
    content = auditor_client.get("/audit/").content.decode()
    assert "<script>alert(1)" not in content
    assert "<img src=x" not in content


@pytest.fixture
def fake_account():
    return FakeAccount(count=40, seed=3, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)


def test_a_playback_shows_in_the_log_with_who_where_and_what_browser(synced, client, support_user, auditor_user):
    recording = Recording.objects.first()
    client.force_login(support_user)
    response = client.get(f"/recordings/{recording.recording_id}/audio", HTTP_USER_AGENT="TestBrowser/1.0")
    assert response.status_code == 200
    b"".join(response.streaming_content)

    client.force_login(auditor_user)
    response = client.get("/audit/", {"recording": recording.recording_id})
    [event] = [row.record for row in response.context["table"].page.object_list]
    assert (event.action, event.user, event.username) == (Action.PLAY, support_user, "sky")
    assert (event.ip_address, event.user_agent) == ("127.0.0.1", "TestBrowser/1.0")
    content = response.content.decode()
    assert "127.0.0.1" in content and "TestBrowser/1.0" in content and ">sky<" in content


def test_a_recording_page_shows_its_history_to_auditors_only(client, support_user, auditor_user):
    recording = make_recording()
    make_event(Action.PLAY, recording, username="sky", ip_address="10.1.2.3", note="")
    make_event(Action.FLAG, recording, username="ada", note="rude agent")
    make_event(Action.PLAY, make_recording(), username="someone-else")
    url = f"/recordings/{recording.recording_id}/"

    client.force_login(auditor_user)
    content = client.get(url).content.decode()
    assert "History" in content
    assert "10.1.2.3" in content and "rude agent" in content
    assert "someone-else" not in content
    assert f'href="/audit/?recording={recording.recording_id}"' in content

    client.force_login(support_user)
    content = client.get(url).content.decode()
    assert "History" not in content
    assert "10.1.2.3" not in content and "/audit/" not in content


def test_a_browser_name_is_shown_escaped_and_shortened_with_the_whole_name_on_hover(auditor_client):
    agent = '<script>alert("ua")</script> Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36'
    make_event(Action.PLAY, make_recording(), user_agent=agent)
    content = auditor_client.get("/audit/").content.decode()
    assert "<script>alert" not in content
    assert 'title="&lt;script&gt;alert(&quot;ua&quot;)&lt;/script&gt; Mozilla/5.0' in content
    assert "&gt; Mozilla/5.…</span>" in content  # 40 characters, the ellipsis one of them
