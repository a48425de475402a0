"""What someone with database access but without SECRET_KEY cannot do to the audit log unseen."""

from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.db.models import ProtectedError
from django.test import RequestFactory
from django.utils import timezone

from recordings import audit_trail
from recordings.admin import RecordingAdmin
from recordings.audit_trail import PERSONAL_FIELDS, Actor, event_by, field_hash, record_for, redact_events, seal_pending
from recordings.auditing import integrity
from recordings.auditing.integrity import check_audit_log, verify_chain
from recordings.models import AuditChainHead, AuditEvent, Recording
from tests.auditing.test_audit_chain import verify
from tests.factories import make_recording
from tests.site.test_migrations import back_to_the_latest, migrate

Action = AuditEvent.Action
pytestmark = pytest.mark.django_db


@pytest.fixture
def actor(auditor_user):
    return Actor(user=auditor_user, ip_address="10.1.2.3", user_agent="Firefox")


@pytest.fixture
def events(actor):
    recording = make_recording(recording_id="rec-forge", call_uuid="call-forge")
    made = [record_for(actor, Action.PLAY, recording) for _ in range(2)]
    made.append(record_for(actor, Action.NOTE, recording, note="caller +919876543210 asked"))
    made += [record_for(actor, Action.SYNC) for _ in range(3)]
    assert seal_pending() == 6
    for event in made:
        event.refresh_from_db()
    return made


def forge_redacted(event: AuditEvent, note: str) -> None:
    """What a redaction leaves on an event, written straight to the database."""
    event.kept_hashes = {name: field_hash(event.salt, name, getattr(event, name)) for name in PERSONAL_FIELDS}
    event.salt, event.note = "", note
    event.save()


def test_a_redaction_event_inserted_in_the_database_is_refused_by_the_sealer_and_named(events):
    target = events[2]
    forge_redacted(target, "nothing was said")
    # A redaction event as the code would write it, its HMAC copied from a genuine event.
    forged = AuditEvent.objects.create(
        at=target.at + timedelta(hours=1),
        username="auditor",
        action=Action.REDACT,
        note="erasure",
        redacts=[target.seq],
        redacted_to={str(target.seq): audit_trail.values_digest(target)},
        salt="ab" * 16,
        mac=events[5].mac,
    )
    record_for(Actor(user=None, ip_address=None, user_agent=""), Action.SYNC)
    assert seal_pending() == 1  # the genuine event after it is chained; the forged one is not
    forged.refresh_from_db()
    assert forged.seq is None
    status, error = verify()
    assert status == 1
    assert (
        f"event {target.pk} (seq 3) was changed: its personal fields were replaced, and no redaction names it" in error
    )
    assert f"event {forged.pk} was inserted without a valid HMAC: forged, never sealed" in error


def test_only_a_redaction_event_names_redactions(events, actor):
    target = events[2]
    forge_redacted(target, "nothing was said")
    # Even an event with a valid HMAC (written by the code) names no redaction unless it is one.
    audit_trail.append(
        event_by(
            actor,
            Action.SYNC,
            redacts=[target.seq],
            redacted_to={str(target.seq): audit_trail.values_digest(target)},
        )
    )
    seal_pending()
    assert "(seq 3) was changed: its personal fields were replaced, and no redaction names it" in verify()[1]


def test_a_redacted_field_edited_after_the_redaction_is_named(events, actor):
    redact_events(event_ids=[events[2].pk], redact=lambda text: "[removed]", actor=actor, reason="erasure")
    assert verify()[0] == 0
    AuditEvent.objects.filter(pk=events[2].pk).update(note="something else")
    assert f"event {events[2].pk} (seq 3) was changed after its redaction" in verify()[1]


def test_a_second_redaction_of_an_event_is_what_it_must_match(events, actor):
    redact_events(event_ids=[events[2].pk], redact=lambda text: text.upper(), actor=actor, reason="first")
    redact_events(event_ids=[events[2].pk], redact=lambda text: "[removed]", actor=actor, reason="second")
    status, output = verify()
    assert status == 0, output
    assert "1 redacted" in output


def test_an_event_without_an_hmac_is_never_sealed_and_is_named(events):
    inserted = AuditEvent.objects.create(at=events[-1].at, username="ghost", action=Action.PLAY)
    assert seal_pending() == 0
    assert f"event {inserted.pk} was inserted without a valid HMAC" in verify()[1]


def test_an_erasure_removes_a_number_from_an_event_the_sealer_refused_and_it_is_still_named(events, actor):
    inserted = AuditEvent.objects.create(
        at=events[-1].at, username="ghost", action=Action.NOTE, note="caller +919876543210 again", ip_address="10.9.9.9"
    )
    assert seal_pending() == 0

    def redact(text: str) -> str:
        return text.replace("+919876543210", "[number]")

    assert redact_events(event_ids=[events[2].pk, inserted.pk], redact=redact, actor=actor, reason="erasure 7") == 2
    inserted.refresh_from_db()
    assert inserted.note == "caller [number] again" and inserted.seq is None
    assert not AuditEvent.objects.filter(note__contains="919876543210").exclude(action=Action.REDACT).exists()
    redaction = AuditEvent.objects.get(action=Action.REDACT)
    assert f"outside the chain, refused by the sealer: {inserted.pk}" in redaction.note
    assert redaction.redacts == [events[2].seq]
    status, output = verify()
    assert status == 1
    assert f"event {inserted.pk} was inserted without a valid HMAC: forged, never sealed" in output
    assert "was changed" not in output  # the chain's own redaction verifies


def test_a_backdated_event_is_named(events, actor):
    # Written by the code but dated an hour before the event it follows.
    event = event_by(actor, Action.PLAY)
    audit_trail.append(event)
    event.at -= timedelta(hours=1)
    event.mac = audit_trail.event_mac(audit_trail.content_of(event))
    event.save()
    seal_pending()
    event.refresh_from_db()
    assert f"event {event.pk} (seq 7) is dated {event.at.isoformat()}, before the event it follows" in verify()[1]


def test_an_event_a_few_minutes_out_of_order_is_accepted(events, actor):
    event = event_by(actor, Action.PLAY)
    audit_trail.append(event)
    event.at -= integrity.CLOCK_TOLERANCE - timedelta(seconds=30)
    event.mac = audit_trail.event_mac(audit_trail.content_of(event))
    event.save()
    seal_pending()
    assert verify()[0] == 0


def test_deleting_the_newest_events_and_rewinding_the_head_is_named(events):
    assert check_audit_log().ok
    AuditEvent.objects.filter(seq__gte=5).delete()
    last = AuditEvent.objects.get(seq=4)
    AuditChainHead.objects.update(seq=4, hash=last.hash, at=last.at)
    status, error = verify()
    assert status == 1
    assert "the event at seq 6, the head verified on" in error
    assert "is gone or changed: the latest events were deleted or the chain rebuilt" in error


def test_deleting_the_newest_events_and_the_head_is_named(events):
    assert check_audit_log().ok
    AuditEvent.objects.filter(seq__gte=5).delete()
    AuditChainHead.objects.all().delete()
    error = verify()[1]
    assert "the chain's head row is missing" in error
    assert "the event at seq 6" in error


def test_every_break_is_listed_not_only_the_first(events):
    AuditEvent.objects.filter(seq__in=[2, 5]).update(username="someone-else")
    AuditEvent.objects.filter(seq=4).delete()
    result = verify_chain()
    assert [found.seq for found in result.breaks] == [2, 4, 5]
    assert result.broken_seq == 2 and result.head is not None and result.head.seq == 1


def test_the_list_of_breaks_is_capped(events, monkeypatch):
    monkeypatch.setattr(integrity, "MAX_BREAKS", 2)
    AuditEvent.objects.filter(seq__gte=2).update(username="someone-else")
    result = verify_chain()
    assert len(result.breaks) == 2
    assert result.problem.endswith("; and 3 more")


def test_a_recording_with_events_cannot_be_deleted(events):
    recording = Recording.objects.get(recording_id="rec-forge")
    with pytest.raises(ProtectedError):
        recording.delete()
    request = RequestFactory().get("/admin/")
    assert RecordingAdmin(Recording, site).has_delete_permission(request, recording) is False


def test_the_chain_names_the_recording_by_its_vobiz_id_and_a_re_pointed_link_is_named(events):
    assert events[0].recording_ref == "rec-forge"
    Recording.objects.filter(recording_id="rec-forge").update(recording_id="rec-other")
    error = verify()[1]
    assert f"event {events[0].pk} (seq 1) links to recording rec-other, not the rec-forge it names" in error


def test_events_keyed_by_a_former_secret_key_verify_while_it_is_a_fallback(events, settings):
    former = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = f"rotated-{former}", [former]
    assert verify()[0] == 0
    settings.SECRET_KEY_FALLBACKS = []
    assert f"event {events[0].pk} (seq 1) does not match its HMAC" in verify()[1]


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_vouches_for_the_events_logged_keeping_their_places_and_redactions():
    before = [("recordings", "0028_transcript_version_charge")]
    executor = migrate(before)
    apps = executor.loader.project_state(before).apps
    old_event, old_recording = apps.get_model("recordings", "AuditEvent"), apps.get_model("recordings", "Recording")
    recording = old_recording.objects.create(
        recording_id="rec-old", add_time=timezone.now(), first_synced_at=timezone.now(), last_synced_at=timezone.now()
    )
    now = timezone.now()
    # Sealed under the former encoding, one since redacted, and one not sealed yet.
    old_event.objects.create(
        at=now, username="sky", action="play", recording=recording, seq=1, hash="a" * 64, salt="s1"
    )
    old_event.objects.create(
        at=now, username="[removed]", action="note", seq=2, hash="b" * 64, kept_hashes={"username": "c" * 64}
    )
    old_event.objects.create(at=now, username="dpo", action="redact", redacts=[2], seq=3, hash="d" * 64, salt="s3")
    old_event.objects.create(at=now, username="sky", action="sync")
    apps.get_model("recordings", "AuditChainHead").objects.update_or_create(
        pk=1, defaults={"seq": 3, "hash": "d" * 64, "at": now}
    )
    back_to_the_latest()
    assert seal_pending() == 1
    assert AuditEvent.objects.get(seq=1).recording_ref == "rec-old"
    result = verify_chain()
    assert (result.ok, result.events, result.redacted) == (True, 4, 1), result.problem
