"""`manage.py remask_transcripts`: stored transcripts masked again, counted per kind and logged."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from recordings.live import remasking
from recordings.models import AuditEvent, Transcript, TranscriptVersion
from tests.factories import make_recording, transcribe

pytestmark = pytest.mark.django_db


def stored_unmasked(text, error="", kinds=()):
    """A transcript as an older masker left it."""
    now = timezone.now()
    return Transcript.objects.create(
        recording_id=make_recording().recording_id,
        text=text,
        error=error,
        masked=bool(kinds),
        masked_kinds=list(kinds),
        received_at=now,
        updated_at=now,
    )


def remask():
    out = StringIO()
    call_command("remask_transcripts", stdout=out)
    return out.getvalue()


def test_stored_transcripts_lose_what_todays_masker_finds(monkeypatch):
    monkeypatch.setattr(remasking, "BATCH", 2)  # several batches
    dashed = stored_unmasked("card 4111 – 1111 – 1111 – 1111 please", kinds=[])
    partly = stored_unmasked("the CVV is [security code], C V V 123 I mean", kinds=["security code"])
    error = stored_unmasked("", error="failed on 'my aadhaar is 2341 2341 2346'")
    clean = stored_unmasked("my order number is 123456")
    done = transcribe(make_recording().recording_id, "card 4111 1111 1111 1111").pk

    output = remask()

    assert "Masked again: 3 of 5 transcripts changed" in output
    assert "  card number: 1" in output and "  security code: 1" in output and "  Aadhaar number: 1" in output
    dashed.refresh_from_db()
    assert dashed.text == "card [card number] please" and dashed.masked and dashed.masked_kinds == ["card number"]
    partly.refresh_from_db()
    assert "123" not in partly.text and partly.masked_kinds == ["security code"]
    error.refresh_from_db()
    assert "2341" not in error.error and error.masked_kinds == ["Aadhaar number"]
    clean.refresh_from_db()
    assert clean.text == "my order number is 123456" and not clean.masked
    assert Transcript.objects.get(pk=done).text == "card [card number]"
    (event,) = AuditEvent.objects.filter(action=AuditEvent.Action.REMASK)
    assert event.note == "3 of 5 transcripts changed: Aadhaar number 1, card number 1, security code 1"
    assert event.user is None and event.user_agent == "manage.py remask_transcripts"


def test_a_second_run_changes_nothing():
    stored_unmasked("4111 um 1111 uh 1111 and 1111")
    remask()
    assert "Masked again: 0 of 1 transcripts changed." in remask()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.REMASK).count() == 2


def test_a_transcript_replaced_meanwhile_is_left_as_the_callback_stored_it(monkeypatch):
    stale = stored_unmasked("card 4111 – 1111 – 1111 – 1111")
    real_mask = remasking.mask

    def replaced_while_masking(text):
        if text == stale.text:  # a callback replaces the transcript now
            Transcript.objects.filter(pk=stale.pk).update(text="a new transcript", updated_at=timezone.now())
        return real_mask(text)

    monkeypatch.setattr(remasking, "mask", replaced_while_masking)
    assert "Masked again: 0 of 1 transcripts changed." in remask()
    assert Transcript.objects.get(pk=stale.pk).text == "a new transcript"


def test_earlier_versions_are_masked_again_and_counted():
    transcript = stored_unmasked("a new transcript")
    now = timezone.now()
    leaky = TranscriptVersion.objects.create(
        transcript=transcript,
        number=1,
        text="card 4111 – 1111 – 1111 – 1111",
        error="failed on 'C V V 123'",
        received_at=now,
        replaced_at=now,
    )
    TranscriptVersion.objects.create(
        transcript=transcript, number=2, text="no numbers", received_at=now, replaced_at=now
    )

    output = remask()

    assert "Masked again: 0 of 1 transcripts changed, 1 of 2 earlier versions: card number 1, security code 1" in output
    leaky.refresh_from_db()
    assert leaky.text == "card [card number]" and "123" not in leaky.error
    assert leaky.masked_kinds == ["card number", "security code"]
    assert "earlier versions" in AuditEvent.objects.get(action=AuditEvent.Action.REMASK).note
