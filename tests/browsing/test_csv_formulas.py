"""No export hands a spreadsheet a formula: only a value that is entirely a number or a phone
number may start with + or -; anything else starting with = + - @ tab or CR is quoted."""

import csv
import io

import pytest
from django.utils import timezone

from recordings.browsing import exports
from recordings.models import Recording
from tests.conftest import AUTH_ID, AUTH_TOKEN
from tests.factories import make_recording
from vobiz.fake.data import FakeAccount

pytestmark = pytest.mark.django_db

LIVE = [
    "+1+cmd|' /C calc'!A0",
    '-1+HYPERLINK("http://x","y")',
    "=1+1",
    "=HYPERLINK(1)",
    "@SUM(1)",
    "\t=1",
    "\r=1",
    "+",
    "-",
    "-1-1",
    "+1e",
    "+91 98 =2",
]
# Each text, and as the phone number column writes it: E.164 for a valid number without an
# extension, anything else exactly as sent (a 555-01xx number is fictional, so never valid).
PLAIN = {
    "+919876543210": "+919876543210",
    "-12.5": "-12.5",
    "+3": "+3",
    "-0": "-0",
    "+1.5e3": "+1.5e3",
    ".5": ".5",
    "+91 98765 43210": "+919876543210",
    "09876543210": "+919876543210",
    "+1 (555) 010-0100": "+1 (555) 010-0100",
    "98765 43210 ext. 12": "98765 43210 ext. 12",
    "12": "12",
    "a=b": "a=b",
}


def rows(response):
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize("text", LIVE)
def test_a_live_formula_in_the_recordings_csv_is_quoted(support_client, text):
    Recording.objects.filter(pk=make_recording().pk).update(conference_name=text, to_number=text)
    [row] = rows(support_client.get("/", {"_export": "csv"}))
    assert row["conference_name"] == "'" + text
    assert row["to_number"] == "'" + text


@pytest.mark.parametrize("text, as_number", PLAIN.items())
def test_numbers_and_phone_numbers_are_written_as_they_are(support_client, text, as_number):
    Recording.objects.filter(pk=make_recording().pk).update(conference_name=text, to_number=text)
    [row] = rows(support_client.get("/", {"_export": "csv"}))
    assert (row["conference_name"], row["to_number"]) == (text, as_number)


def test_a_table_made_in_python_is_written_as_one_read_from_the_database():
    """A review sample's CSV (rows made in Python) writes each column as the recordings CSV does."""
    make_recording(from_number="09876543210", to_number="+1 (555) 010-0100", conference_name="=HYPERLINK(1)")
    make_recording(from_number="", conference_name="12")
    columns = ["recording_id", "add_time", "from_number", "to_number", "recording_duration_ms", "conference_name"]
    recordings = Recording.objects.order_by("pk")
    with timezone.override("Asia/Kolkata"):
        from_python = exports.csv_rows(columns, list(recordings.values_list(*columns)))
        from_database = "".join(exports.csv_batches(recordings, columns, timezone.get_current_timezone()))
    assert from_python == from_database
    assert "+05:30" in from_python and "+919876543210" in from_python and "'=HYPERLINK(1)" in from_python


@pytest.fixture
def fake_account():
    return FakeAccount(count=3, seed=2, auth_id=AUTH_ID, auth_token=AUTH_TOKEN, max_audio_seconds=3)


@pytest.mark.parametrize("text", LIVE[:3])
def test_a_formula_sent_as_a_user_agent_is_quoted_in_the_audit_csv(synced, client, auditor_user, text):
    client.force_login(auditor_user)
    recording = Recording.objects.first()
    b"".join(client.get(f"/recordings/{recording.recording_id}/audio", HTTP_USER_AGENT=text).streaming_content)
    [row] = rows(client.get("/audit/", {"action": "play", "_export": "csv"}))
    assert row["user_agent"] == "'" + text
