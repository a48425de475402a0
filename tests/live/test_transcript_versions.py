"""A stored transcript is never silently replaced: later texts become versions, logged and shown."""

import pytest

from recordings.models import AuditEvent, Transcript, TranscriptVersion
from tests.factories import make_recording, transcribe
from tests.live.test_callbacks import PUBLIC_URL, TRANSCRIPTION_PATH, post, signed_headers

pytestmark = pytest.mark.django_db


@pytest.fixture
def recording(settings, fake_vobiz):
    settings.DASHBOARD_PUBLIC_URL = PUBLIC_URL
    return make_recording()


def send(client, recording_id, text):
    fields = {"recording_id": recording_id, "call_uuid": "call-1", "transcription": text}
    response = post(client, TRANSCRIPTION_PATH, fields, signed_headers(TRANSCRIPTION_PATH))
    assert response.status_code == 200
    return response


def shown_ids(response):
    return [row.record.recording_id for row in response.context["table"].paginated_rows]


def test_a_later_text_becomes_the_current_version_and_the_first_is_kept(client, recording):
    send(client, recording.recording_id, "The kettle arrived broken.")
    send(client, recording.recording_id, "The toaster arrived on time.")
    transcript = Transcript.objects.get(recording_id=recording.recording_id)
    assert transcript.text == "The toaster arrived on time."
    assert [(v.number, v.text) for v in transcript.versions.all()] == [(1, "The kettle arrived broken.")]
    (event,) = AuditEvent.objects.filter(action=AuditEvent.Action.RETRANSCRIBED)
    assert event.recording == recording and event.call_uuid == "call-1" and event.user is None
    assert event.user_agent == "Vobiz transcription callback"
    assert "version 2 is current, version 1 is kept" in event.note and "from Vobiz" in event.note


def test_the_same_text_again_makes_no_version_and_no_event(client, recording):
    send(client, recording.recording_id, "Same words.")
    send(client, recording.recording_id, "Same words.")
    assert not TranscriptVersion.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.RETRANSCRIBED).exists()


def test_versions_are_numbered_in_turn_and_an_error_is_a_version_too(client, recording):
    fields = {"recording_id": recording.recording_id, "error": "Recording too short"}
    assert post(client, TRANSCRIPTION_PATH, fields, signed_headers(TRANSCRIPTION_PATH)).status_code == 200
    send(client, recording.recording_id, "First words.")
    send(client, recording.recording_id, "Second words.")
    versions = list(TranscriptVersion.objects.values_list("number", "text", "error"))
    assert versions == [(1, "", "Recording too short"), (2, "First words.", "")]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.RETRANSCRIBED).count() == 2
    assert Transcript.objects.get().error == ""


def test_the_search_follows_the_current_version(support_client, recording):
    transcribe(recording.recording_id, "The kettle arrived broken.")
    assert shown_ids(support_client.get("/", {"transcript": "kettle"})) == [recording.recording_id]
    transcribe(recording.recording_id, "The toaster arrived on time.")
    assert shown_ids(support_client.get("/", {"transcript": "kettle"})) == []
    assert shown_ids(support_client.get("/", {"transcript": "toaster"})) == [recording.recording_id]


def test_auditors_see_the_history_on_the_recording_page_and_support_does_not(
    client, auditor_user, support_user, recording
):
    transcribe(recording.recording_id, "Earlier <b>words</b>.")
    transcribe(recording.recording_id, "Current words.")
    client.force_login(auditor_user)
    html = client.get(f"/recordings/{recording.recording_id}/").content.decode()
    assert "Current words." in html
    assert "Version 2 of this transcript: 1 earlier version," in html and "Earlier &lt;b&gt;words&lt;/b&gt;." in html
    assert "Transcript replaced" in html  # the replacement in the recording's audit history
    client.force_login(support_user)
    html = client.get(f"/recordings/{recording.recording_id}/").content.decode()
    assert "Current words." in html and "Earlier" not in html


def test_a_replaced_transcript_waiting_for_its_recording_is_logged_by_call(settings):
    transcribe("not-yet-here", "First.", call_uuid="call-9")
    transcribe("not-yet-here", "Second.", call_uuid="call-9")
    (event,) = AuditEvent.objects.filter(action=AuditEvent.Action.RETRANSCRIBED)
    assert event.recording is None and event.call_uuid == "call-9" and "not-yet-here" in event.note


def test_a_replaced_transcription_keeps_its_charge(client, recording, settings):
    settings.BILLING_CURRENCY = "INR"
    for text, charge in (("First words.", "0.0125"), ("Second words.", "0.0250")):
        fields = {"recording_id": recording.recording_id, "transcription": text, "transcription_charge": charge}
        assert post(client, TRANSCRIPTION_PATH, fields, signed_headers(TRANSCRIPTION_PATH)).status_code == 200
    (version,) = TranscriptVersion.objects.all()
    assert str(version.charge) == "0.012500"
    assert str(Transcript.objects.get().charge) == "0.025000"


def test_a_transcription_charge_in_another_currency_is_not_kept(client, recording, settings):
    settings.BILLING_CURRENCY = "INR"
    fields = {
        "recording_id": recording.recording_id,
        "transcription": "Words.",
        "transcription_charge": "0.02",
        "transcription_rate": "0.01",
        "currency": "USD",
    }
    assert post(client, TRANSCRIPTION_PATH, fields, signed_headers(TRANSCRIPTION_PATH)).status_code == 200
    transcript = Transcript.objects.get()
    assert transcript.charge is None and transcript.rate is None and transcript.text == "Words."
