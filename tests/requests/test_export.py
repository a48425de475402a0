"""The person's copy: one streamed ZIP whose manifest names every file with its true hash and size."""

import csv
import hashlib
import io
import json
import zipfile

import pytest
from django.utils import timezone

from recordings.audit_trail import Actor
from recordings.live.masking import mask
from recordings.models import AuditEvent, CallDetail, Recording, SubjectRequest
from recordings.requests import services
from recordings.requests.selectors import recordings_of
from recordings.review.marks import set_review
from recordings.review.notes import add_note
from tests.factories import transcribe
from tests.requests.conftest import PERSON_AS

pytestmark = pytest.mark.django_db


def download(client, subject_request):
    response = client.post(f"/requests/{subject_request.pk}/copy.zip")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == f'attachment; filename="request_{subject_request.pk}_copy.zip"'
    return b"".join(response.streaming_content)


def test_the_copy_holds_audio_transcripts_call_records_notes_and_a_manifest_that_matches(
    synced, auditor_client, auditor_user
):
    actor = Actor(user=auditor_user, ip_address=None, user_agent="")
    made = services.open_request(
        actor=actor,
        number="+91 98450 12345",
        kind="access",
        reference="T-5",
        due_on=timezone.localdate(),
        time_zone="Asia/Kolkata",
    )
    recordings = list(Recording.objects.filter(pk__in=[r.pk for r in recordings_of(made)]).order_by("pk"))
    first = recordings[0]
    transcribe(first.recording_id, "my card is 4111 1111 1111 1111, thanks")
    add_note(actor=actor, recording=first, at_ms=1500, text="asks for a refund")
    set_review(actor=actor, recording=first, state="flagged", note="rude")

    body = download(auditor_client, made)

    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None
    manifest = json.loads(archive.read("manifest.json"))
    names = {row["file"] for row in manifest["files"]}
    assert {f"audio/{r.recording_id}.{r.recording_format}" for r in recordings} <= names
    assert f"transcripts/{first.recording_id}.txt" in names
    assert {f"call_records/{r.call_uuid}.json" for r in recordings} <= names
    assert "notes.json" in names
    for row in manifest["files"]:
        data = archive.read(row["file"])
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        assert len(data) == row["size"] > 0
    rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    assert [(r["file"], r["sha256"], int(r["size"])) for r in rows] == [
        (r["file"], r["sha256"], r["size"]) for r in manifest["files"]
    ]
    # Times with the offset of the zone chosen for the person.
    assert all(r["added"].endswith("+05:30") for r in manifest["recordings"])
    assert len(manifest["recordings"]) == len(PERSON_AS)

    # The transcript as stored: masked.
    assert (
        archive.read(f"transcripts/{first.recording_id}.txt").decode()
        == mask("my card is 4111 1111 1111 1111, thanks").text
    )
    notes = json.loads(archive.read("notes.json"))
    assert notes["moment_notes"][0]["text"] == "asks for a refund"
    assert notes["reviews"] == [
        {
            "recording_id": first.recording_id,
            "state": "flagged",
            "reviewed": notes["reviews"][0]["reviewed"],
            "note": "rude",
        }
    ]
    cdr = json.loads(archive.read(f"call_records/{first.call_uuid}.json"))
    assert cdr == CallDetail.objects.get(call_uuid=first.call_uuid).data

    # The ZIP's own hash, taken while streaming, on the request and in the log.
    digest = hashlib.sha256(body).hexdigest()
    made.refresh_from_db()
    assert made.status == SubjectRequest.Status.EXPORTED
    assert made.export_sha256 == digest and made.export_bytes == len(body)
    assert made.export_files == len(manifest["files"])
    event = AuditEvent.objects.get(action=AuditEvent.Action.DSR_EXPORT)
    assert digest in event.note
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DOWNLOAD).count() == len(PERSON_AS)


def test_a_closed_request_makes_no_copy(synced, auditor_client, auditor_user):
    actor = Actor(user=auditor_user, ip_address=None, user_agent="")
    made = services.open_request(
        actor=actor, number="9845012345", kind="access", reference="T", due_on=timezone.localdate(), time_zone="UTC"
    )
    services.close(actor=actor, request_id=made.pk)
    assert auditor_client.post(f"/requests/{made.pk}/copy.zip").status_code == 409
    made.refresh_from_db()
    assert made.number == "" and not made.export_sha256
