"""Erasure: deleted at Vobiz with four eyes, held recordings kept and reported, and the person's number
left in no column of any table, yet a later request for it finds the earlier one."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from recordings.audit_trail import Action, record_for, redact_events
from recordings.auditing import deletion
from recordings.auditing.holds import place_hold
from recordings.auditing.integrity import verify_chain
from recordings.auditing.usage import storage
from recordings.background import tasks
from recordings.models import (
    AuditEvent,
    CallDetail,
    DeletionBatch,
    DeletionOutcome,
    MomentNote,
    Recording,
    SubjectRequest,
    Transcript,
)
from recordings.requests import services
from recordings.requests.numbers import keyed_hash
from recordings.requests.selectors import earlier_requests, erasure_plan, recordings_of
from recordings.retention import rules, runs
from recordings.review.marks import set_review
from recordings.review.notes import add_note
from recordings.review.samples import create_sample
from tests.auditing.test_usage_summary import assert_summary_current
from tests.factories import transcribe
from tests.requests.conftest import PERSON, PERSON_AS

pytestmark = pytest.mark.django_db

# Every way the number may be written down, in text and in a URL's query string, and the reversed
# digits the table searches.
FORMS = (
    "+919845012345",
    "919845012345",
    "9845012345",
    "98450 12345",
    "98450  12345",
    "(98450) 12345",
    "98450-12345",
    "98450+12345",
    "%2B91+98450+12345",
    "%2B919845012345",
    "%2098450%2012345",
    "5432105489",
)


def open_erasure(actor, reference="T-9"):
    return services.open_request(
        actor=actor,
        number="09845012345",
        kind="erasure",
        reference=reference,
        due_on=timezone.localdate(),
        time_zone="UTC",
    )


def approve(subject_request, approver):
    shown = erasure_plan(subject_request).fingerprint
    approved = services.approve_erasure(actor=approver, request_id=subject_request.pk, fingerprint=shown)
    if approved.deletion_batch:
        tasks.queue_deletion(approved.deletion_batch)  # the test settings run it at once
    return approved


def where_the_number_is() -> list[str]:
    """Every table.column of the database holding any form of the number."""
    found = []
    introspection = connection.introspection
    with connection.cursor() as cursor:
        for table in introspection.table_names(cursor):
            for column in introspection.get_table_description(cursor, table):
                quoted = f"{connection.ops.quote_name(table)}.{connection.ops.quote_name(column.name)}"
                text = f"CAST({quoted} AS TEXT)"
                for form in FORMS:
                    cursor.execute(
                        f"SELECT 1 FROM {connection.ops.quote_name(table)} WHERE {text} LIKE %s LIMIT 1", [f"%{form}%"]
                    )
                    if cursor.fetchone():
                        found.append(f"{table}.{column.name}: {form}")
    return found


def test_erasure_leaves_the_number_in_no_table_and_a_later_request_finds_the_earlier_one(
    synced, actor, approver, auditor_client
):
    # Another request for the same number, left open: it keeps the number's hash, not the number.
    sibling = open_erasure(actor, reference="draft: caller +91 98450 12345")
    person = list(recordings_of(sibling))
    first, second = sorted(person, key=lambda r: r.pk)[:2]
    # What the dashboard keeps that mentions the person: a transcript, notes, a review, a cached call
    # record, a search in the log, and an earlier deletion asked by number (its tombstone and reason).
    transcribe(first.recording_id, "please call me back on 98450 12345")
    add_note(actor=actor, recording=first, at_ms=0, text="caller 98450 12345 wants a callback")
    set_review(actor=actor, recording=first, state="flagged", note="number +91 98450 12345 given")
    CallDetail.objects.create(
        call_uuid=first.call_uuid, data={"caller_id_number": "919845012345", "x": [1]}, fetched_at=timezone.now()
    )
    record_for(actor, Action.TABLE_EXPORT, note="3 rows, Search: 98450 12345")
    exported = auditor_client.get("/", {"q": "98450  12345", "from_number": "+91 98450 12345", "_export": "csv"})
    assert b"".join(exported.streaming_content)
    assert AuditEvent.objects.filter(note__contains="q=98450++12345").exists()  # as the table wrote it
    earlier = deletion.prepare_deletion(
        actor=actor, recordings=Recording.objects.filter(pk=second.pk), filter_query="q=%2B919845012345"
    )
    deletion.confirm_deletion(user=actor.user, batch_id=earlier.pk, reason="asked by 9845012345")
    deletion.process_batch(earlier.pk)
    other = Recording.objects.exclude(pk__in=[r.pk for r in person]).first()
    deletion.prepare_deletion(  # a bulk delete from a search, never confirmed
        actor=actor,
        recordings=Recording.objects.filter(pk=other.pk),
        filter_query="from_number=%2B91+98450+12345&q=98450+12345",
    )
    rule = rules.create_rule(
        actor=actor,
        name="Caller 98450  12345",
        action="delete",
        filter_query="from_number=%2B91+%2898450%29++12345",
        age_days=36500,
    )
    rules.approve_rule(actor=approver, rule_id=rule.pk, version=rule.version)
    assert runs.run_due_rules().runs  # its definition is kept with the run
    create_sample(
        actor=actor,
        name="Calls of 98450-12345",
        criteria={"q": "%2B919845012345"},
        recordings=Recording.objects.filter(pk=first.pk),
        percent=Decimal(100),
        per_caller=1,
        seed=1,
    )
    Recording.objects.filter(pk=first.pk).update(conference_name="bridge +91 98450 12345")
    place_hold(actor=actor, reason="caller 98450 12345 disputes this call", recording=other)
    assert "recordings_recording.to_digits_reversed: 5432105489" in where_the_number_is()  # found before

    made = open_erasure(actor, reference="T-9 (caller 98450 12345)")
    approve(made, approver)
    erased = services.erase(actor=approver, request_id=made.pk)

    assert where_the_number_is() == []
    assert erased.status == SubjectRequest.Status.ERASED and erased.number == ""
    assert erased.counts["found"] == len(PERSON_AS) and erased.counts["redacted"] == len(PERSON_AS)
    assert erased.counts["deleted_at_vobiz"] == len(PERSON_AS) - 1  # one was deleted before
    assert erased.counts["transcripts_deleted"] == 1 and erased.counts["notes_deleted"] == 1
    assert erased.kept == []
    assert not Transcript.objects.filter(recording_id=first.recording_id).exists()
    assert not MomentNote.objects.exists()
    hashed = keyed_hash(PERSON)
    assert all(hashed in (r.from_number, r.to_number) for r in Recording.objects.filter(pk__in=[r.pk for r in person]))
    assert Recording.objects.get(pk=other.pk).from_number == other.from_number  # nobody else's number
    # The audit log says what was redacted, and why.
    redaction = AuditEvent.objects.get(action=Action.REDACT)
    assert redaction.note.startswith(f"erasure of data-subject request #{made.pk} (events ")
    assert AuditEvent.objects.filter(note__contains=hashed).count() >= 3
    # The log's chain reports the erasure as redactions, not as tampering.
    verified = verify_chain()
    assert verified.ok and verified.redacted >= 3

    # A later request for the same number, however written, finds the earlier one and its tombstones.
    later = services.open_request(
        actor=actor,
        number="+91 98450-12345",
        kind="access",
        reference="T-10",
        due_on=timezone.localdate(),
        time_zone="UTC",
    )
    assert list(earlier_requests(later)) == [sibling, erased]
    sibling.refresh_from_db()
    assert sibling.status == SubjectRequest.Status.OPEN and sibling.number_hash == hashed
    assert sibling.reference == f"draft: caller {hashed}"
    assert AuditEvent.objects.filter(
        action=Action.DSR_ERASE,
        note=f"data-subject request #{sibling.pk}: number cleared by the erasure of request #{made.pk}",
    ).exists()
    assert recordings_of(sibling).count() == len(PERSON_AS)  # by the hash its recordings hold now
    assert recordings_of(later).count() == len(PERSON_AS)


def test_a_held_recording_survives_the_erasure_and_is_reported_with_its_reason(synced, actor, approver, fake_vobiz):
    made = open_erasure(actor)
    held = recordings_of(made).exclude(call_uuid="").order_by("pk").first()
    hold = place_hold(actor=actor, reason="court case 41: caller 98450 12345", recording=held).hold
    # The held call's evidence mentions the number: its record and a note in the log.
    record = CallDetail.objects.create(
        call_uuid=held.call_uuid, data={"caller_id_number": "919845012345"}, fetched_at=timezone.now()
    )
    noted = record_for(actor, Action.NOTE, held, note="caller 98450 12345 asked about this call")
    approve(made, approver)
    outcomes = DeletionOutcome.objects.filter(batch=SubjectRequest.objects.get().deletion_batch)
    assert outcomes.get(recording=held).status == DeletionOutcome.Status.HELD
    erased = services.erase(actor=approver, request_id=made.pk)

    assert fake_vobiz.account.get(held.recording_id) is not None
    kept = Recording.objects.get(pk=held.pk)
    assert kept.deleted_at is None and re.sub(r"\D", "", kept.from_number + kept.to_number).count("9845012345") == 1
    assert erased.kept == [
        {
            "recording_id": held.recording_id,
            "reason": "on legal hold (court case 41: caller 98450 12345); "
            "its call record, holds and log notes are kept as they are",
        }
    ]
    assert erased.counts["kept"] == 1 and erased.counts["deleted_at_vobiz"] == len(PERSON_AS) - 1
    assert erased.counts["held_calls"] == 1
    assert CallDetail.objects.get(pk=record.pk).data == record.data
    assert type(hold).objects.get(pk=hold.pk).reason == hold.reason
    assert AuditEvent.objects.get(pk=noted.pk).note == noted.note
    for gone in recordings_of(erased):
        assert gone.pk != held.pk and gone.deleted_at is not None


def test_the_usage_figures_stay_equal_to_a_recount_through_an_erasure(synced, actor, approver):
    made = open_erasure(actor)
    place_hold(actor=actor, reason="court case 41", recording=recordings_of(made).order_by("pk").first())
    assert_summary_current()
    before = storage()["count"]
    approve(made, approver)
    erased = services.erase(actor=approver, request_id=made.pk)
    assert erased.counts["deleted_at_vobiz"] == len(PERSON_AS) - 1
    assert storage()["count"] == before - (len(PERSON_AS) - 1)  # the held one still counts
    assert_summary_current()


def test_erasure_waits_for_the_deletion_at_vobiz(synced, actor, approver, settings):
    made = open_erasure(actor)
    shown = erasure_plan(made).fingerprint
    services.approve_erasure(actor=approver, request_id=made.pk, fingerprint=shown)  # not queued: not run
    with pytest.raises(services.RequestRefused, match="still deleting"):
        services.erase(actor=approver, request_id=made.pk)
    assert SubjectRequest.objects.get().number == PERSON


def test_redacting_events_changes_only_those_the_redaction_touches_and_logs_which(actor):
    touched = record_for(actor, Action.TABLE_EXPORT, note="Search: 98450 12345")
    untouched = record_for(actor, Action.TABLE_EXPORT, note="Search: 98450 99999")
    changed = redact_events(
        event_ids=[touched.pk, untouched.pk], redact=lambda text: text.replace("12345", "*"), actor=actor, reason="why"
    )
    assert changed == 1
    assert AuditEvent.objects.get(pk=touched.pk).note == "Search: 98450 *"
    assert AuditEvent.objects.get(pk=untouched.pk).note == "Search: 98450 99999"
    logged = AuditEvent.objects.get(action=Action.REDACT)
    assert logged.note == f"why (events {touched.pk})" and logged.username == actor.username


def test_erasure_waits_until_vobiz_deleted_what_was_approved_and_retries_the_rest(
    synced, actor, approver, fake_vobiz, auditor_client
):
    made = open_erasure(actor)
    fake_vobiz.start_outage()
    approve(made, approver)
    stopped = SubjectRequest.objects.get().deletion_batch
    assert stopped.finished_at is not None and stopped.stopped_reason  # stopped, not done
    with pytest.raises(services.RequestRefused, match=f"Vobiz has not deleted {len(PERSON_AS)} of the recordings"):
        services.erase(actor=approver, request_id=made.pk)
    page = auditor_client.get(f"/requests/{made.pk}/").content.decode()
    assert "Retry the rest at Vobiz" in page and "Erase the number here" not in page
    forged = auditor_client.post(f"/requests/{made.pk}/erase")
    assert forged.status_code == 409 and SubjectRequest.objects.get().number == PERSON

    fake_vobiz.end_outage()
    retried = auditor_client.post(f"/requests/{made.pk}/retry")  # the test settings run the deletion at once
    assert retried.status_code == 302
    retry = DeletionBatch.objects.get(pk__gt=stopped.pk)
    assert retry.reason == stopped.reason and retry.finished_at is not None
    assert auditor_client.post(f"/requests/{made.pk}/retry").status_code == 409  # nothing left to retry
    page = auditor_client.get(f"/requests/{made.pk}/").content.decode()
    assert f'deletion {stopped.pk}</a> · <a href="/deletions/{retry.pk}/">deletion {retry.pk}' in page
    assert "Erase the number here" in page and "Retry the rest" not in page
    erased = services.erase(actor=approver, request_id=made.pk)
    assert erased.counts["deleted_at_vobiz"] == len(PERSON_AS) and erased.kept == []
    assert all(fake_vobiz.account.get(r.recording_id) is None for r in recordings_of(erased))


@pytest.mark.parametrize(
    "status, message, reason",
    [
        ("pending", "", "not deleted at Vobiz: its deletion was not attempted"),
        ("attempting", "", "not known to be deleted at Vobiz: its deletion was sent, no answer kept"),
        ("failed", "Vobiz answered 500", "not deleted at Vobiz: its deletion failed (Vobiz answered 500)"),
        (None, "", "not deleted at Vobiz: it arrived after the erasure was approved, so it was not approved"),
    ],
)
def test_the_proof_gives_each_kept_recording_its_own_reason(synced, status, message, reason):
    recording = Recording.objects.first()
    outcomes = {recording.pk: DeletionOutcome(recording=recording, status=status, message=message)} if status else {}
    assert services.kept_reason(recording, outcomes) == reason


def test_an_erased_calls_record_is_never_fetched_again_from_vobiz(synced, actor, approver, auditor_client):
    made = open_erasure(actor)
    first, second = recordings_of(made).exclude(call_uuid="").order_by("pk")[:2]
    assert first.call_uuid != second.call_uuid
    assert auditor_client.get(f"/calls/{first.call_uuid}/").status_code == 200  # fetched and kept
    assert CallDetail.objects.filter(call_uuid=first.call_uuid).exists()
    CallDetail.objects.filter(call_uuid=second.call_uuid).delete()
    approve(made, approver)
    services.erase(actor=approver, request_id=made.pk)
    kept = CallDetail.objects.get(call_uuid=first.call_uuid).data

    synced.reset_log()
    assert auditor_client.post(f"/calls/{first.call_uuid}/").status_code == 302  # refresh: refused by the task
    page = auditor_client.get(f"/calls/{first.call_uuid}/").content.decode()
    assert "its call record is not fetched from Vobiz again" in page
    never_kept = auditor_client.get(f"/calls/{second.call_uuid}/").content.decode()
    assert "its call record is not fetched from Vobiz again" in never_kept
    assert not [r for r in synced.requests_log if "/cdr/" in r.path]
    assert CallDetail.objects.get(call_uuid=first.call_uuid).data == kept
    assert not CallDetail.objects.filter(call_uuid=second.call_uuid).exists()
