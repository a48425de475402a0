from datetime import timedelta

import pytest
from django.utils import timezone

from recordings.browsing import call_facts
from recordings.formatting import duration, phone
from recordings.models import CallDetail, Recording, SyncRun, Transcript
from recordings.roles import SUPPORT, role_group
from recordings.sync.run import sync_recordings
from recordings.sync.walk import SyncOptions
from tests.conftest import AUTH_ID, AUTH_TOKEN
from tests.factories import make_recording
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_account():
    return FakeAccount(count=60, seed=5, auth_id=AUTH_ID, auth_token=AUTH_TOKEN)


def cdr_requests(server):
    return [r for r in server.requests_log if "/cdr/" in r.path]


def call_with_several_recordings(server):
    objects = server.account.page(1, 60)[0]  # skip the newest: its call is still "in progress"
    for obj in objects:
        if Recording.objects.filter(call_uuid=obj["call_uuid"]).count() > 1:
            return obj["call_uuid"]
    raise AssertionError("the fake account has no call with several recordings")


def test_call_page_shows_the_cdr_facts_and_every_recording_in_time_order(synced, support_client):
    call_uuid = call_with_several_recordings(synced)
    cdr = synced.account.cdr(call_uuid)
    response = support_client.get(f"/calls/{call_uuid}/")
    assert response.status_code == 200
    content = response.content.decode()
    assert cdr["call_direction"].capitalize() in content
    assert phone(str(cdr["destination_number"])) in content
    assert (
        cdr["currency"] == "INR"
        and "₹" in dict((label, value) for label, value, _ in response.context["facts"])["Cost"]
    )
    assert "Hung up by" in content and cdr["hangup_cause"] in content
    assert f"<dd>{duration(round(float(cdr['duration']) * 1000))}</dd>" in content and " s</dd>" not in content
    shown = [r.recording_id for r in response.context["recordings"]]
    expected = list(
        Recording.objects.filter(call_uuid=call_uuid).order_by("add_time").values_list("recording_id", flat=True)
    )
    assert shown == expected and len(shown) > 1
    for recording_id in shown:
        assert f'data-audio="/recordings/{recording_id}/audio"' in content


def test_a_calls_durations_read_as_every_duration_does(support_client):
    assert call_facts.clock_of("309") == "5:09" and call_facts.clock_of(12.6) == "0:13"
    assert call_facts.clock_of("4000") == "1:06:40" and call_facts.clock_of("") is None
    facts = dict(
        (label, value)
        for label, value, _ in call_facts.call_facts({"ring_time": "7", "duration": "309", "billsec": "300"})
    )
    assert (facts["Ringing"], facts["Duration"], facts["Billed"]) == ("0:07", "5:09", "5:00")


@pytest.mark.parametrize(
    "currency, shown", [("INR", "₹2.25"), ("", "₹2.25"), ("USD", "$2.25"), ("<b>", "2.25 &lt;B&gt;")]
)
def test_a_calls_cost_is_shown_as_money_in_its_currency(support_client, currency, shown):
    recording = make_recording()
    data = {
        "call_uuid": recording.call_uuid,
        "total_cost": "2.25000",
        "currency": currency,
        "call_direction": "inbound",
    }
    CallDetail.objects.create(call_uuid=recording.call_uuid, data=data, fetched_at=timezone.now())
    content = support_client.get(f"/calls/{recording.call_uuid}/").content.decode()
    assert f"<dt>Cost</dt>\n    <dd>{shown}</dd>" in content


def test_a_transcripts_charge_and_rate_are_money(support_client):
    recording = make_recording()
    Transcript.objects.create(
        recording_id=recording.recording_id,
        text="Hello",
        charge="0.037500",
        rate="0.012500",
        received_at=timezone.now(),
        updated_at=timezone.now(),
    )
    content = support_client.get(f"/recordings/{recording.recording_id}/").content.decode()
    assert "charge ₹0.0375 at ₹0.0125 a minute" in content
    assert "0.037500" not in content


def test_the_cdr_is_cached_and_a_refresh_fetches_it_again(synced, support_client):
    call_uuid = call_with_several_recordings(synced)
    support_client.get(f"/calls/{call_uuid}/")
    support_client.get(f"/calls/{call_uuid}/")
    assert len(cdr_requests(synced)) == 1
    assert CallDetail.objects.filter(call_uuid=call_uuid).exists()
    response = support_client.post(f"/calls/{call_uuid}/", follow=True)
    assert len(cdr_requests(synced)) == 2
    assert b"fetched again" in response.content


def test_a_call_without_a_cdr_says_so_and_still_shows_its_recordings(synced, support_client):
    newest = synced.account.page(0, 1)[0][0]
    response = support_client.get(f"/calls/{newest['call_uuid']}/")
    assert response.status_code == 200
    assert b"still in progress" in response.content
    assert newest["recording_id"].encode() in response.content


def test_vobiz_unreachable_for_the_cdr_is_said_plainly(synced, support_client):
    call_uuid = call_with_several_recordings(synced)
    synced.inject("503", times=10)
    response = support_client.get(f"/calls/{call_uuid}/")
    assert response.status_code == 200
    assert b"could not be reached" in response.content
    assert AUTH_TOKEN.encode() not in response.content


def test_call_page_query_count_does_not_grow_with_recordings(support_client, django_assert_max_num_queries, settings):
    settings.VOBIZ_AUTH_ID = ""
    for _ in range(2):
        make_recording(call_uuid="shared-call")
    with django_assert_max_num_queries(10):
        support_client.get("/calls/shared-call/")
    for _ in range(10):
        make_recording(call_uuid="shared-call")
    with django_assert_max_num_queries(10):
        support_client.get("/calls/shared-call/")


@pytest.mark.parametrize("t, start", [("83", 83), ("83.9", 83), ("1:23", 83), ("1:02:03", 3723)])
def test_start_time_forms(support_client, t, start):
    recording = make_recording()
    assert support_client.get(f"/recordings/{recording.recording_id}/", {"t": t}).context["start"] == start


def test_recording_page_shows_every_field_and_starts_at_t(support_client):
    recording = make_recording(conference_name="Team bridge", recording_type="conference")
    sibling = make_recording(call_uuid=recording.call_uuid)
    response = support_client.get(f"/recordings/{recording.recording_id}/", {"t": "83"})
    content = response.content.decode()
    assert 'data-start="83"' in content
    for text in (recording.recording_id, recording.call_uuid, "Team bridge", "1:05", "₹0.005", "120 s"):
        assert text in content
    assert f"/recordings/{sibling.recording_id}/" in content
    assert f"/calls/{recording.call_uuid}/" in content
    assert "Raw object from Vobiz" not in content  # staff only


def test_staff_see_the_raw_object_escaped(staff_client):
    recording = make_recording(conference_name="<script>alert(1)</script>")
    content = staff_client.get(f"/recordings/{recording.recording_id}/").content.decode()
    assert "Raw object from Vobiz" in content
    assert "<script>alert(1)" not in content


@pytest.mark.parametrize("t", ["abc", "-5", "nan", "inf", "1e999"])
def test_bad_start_times_are_ignored(support_client, t):
    recording = make_recording()
    response = support_client.get(f"/recordings/{recording.recording_id}/", {"t": t})
    assert response.status_code == 200
    assert "data-start" not in response.content.decode()


def test_unknown_recording_and_call(support_client, settings):
    settings.VOBIZ_AUTH_ID = ""
    assert support_client.get("/recordings/does-not-exist/").status_code == 404
    response = support_client.get("/calls/does-not-exist/")
    assert response.status_code == 200
    assert b"No recordings of this call" in response.content


def test_sync_status_line_and_runs_page(support_client, fake_vobiz, vobiz_client):
    sync_recordings(SyncOptions(), client=vobiz_client)
    assert b"Last sync" in support_client.get("/").content
    SyncRun.objects.create(
        mode="incremental", status="failed", error="Vobiz answered 401: bad token", started_at=timezone.now()
    )
    content = support_client.get("/").content.decode()
    assert "failed" in content and "Vobiz answered 401" in content
    runs = support_client.get("/sync/").content.decode()
    assert runs.count('class="badge badge-failed"') == 1 and runs.count("badge-succeeded") == 1


def test_a_sync_runs_duration_reads_as_every_duration_does(support_client):
    started = timezone.now() - timedelta(minutes=5)
    SyncRun.objects.create(
        mode="incremental", status="succeeded", started_at=started, finished_at=started + timedelta(seconds=309.4)
    )
    runs = support_client.get("/sync/").content.decode()
    assert ">5:09</td>" in runs and " s</td>" not in runs


def test_login_and_logout(client, django_user_model):
    user = django_user_model.objects.create_user("ann", password="a-long-password-1")
    user.groups.add(role_group(SUPPORT))
    response = client.post("/accounts/login/", {"username": "ann", "password": "a-long-password-1"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_login_page_needs_no_login_and_loads_nothing_from_outside(client):
    content = client.get("/accounts/login/").content.decode()
    assert 'name="password"' in content
    assert "http://" not in content and "https://" not in content
