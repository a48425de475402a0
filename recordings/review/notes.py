"""Notes pinned to a moment of a recording: adding one, and reading them back."""

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from recordings.audit_trail import Actor, record_for
from recordings.formatting import moment
from recordings.models import AuditEvent, MomentNote, Recording


@transaction.atomic
def add_note(*, actor: Actor, recording: Recording, at_ms: int, text: str) -> MomentNote:
    """Pin `text` to `at_ms` of the recording; the audit log keeps it too."""
    note = MomentNote.objects.create(
        recording=recording,
        at_ms=at_ms,
        text=text,
        author=actor.user,
        username=actor.username,
        created_at=timezone.now(),
    )
    record_for(actor, AuditEvent.Action.NOTE, recording, note=f"at {moment(at_ms)}: {text}")
    return note


def notes_by_recording(recording_ids: Iterable[int]) -> dict[int, list[MomentNote]]:
    """The notes of these recordings (primary keys), in time order, in one query."""
    notes = defaultdict(list)
    for note in MomentNote.objects.filter(recording_id__in=list(recording_ids)).order_by("recording_id", "at_ms", "id"):
        notes[note.recording_id].append(note)
    return dict(notes)


def notes_in_words(notes: Iterable[MomentNote]) -> str:
    """A recording's notes as one text, a line each: "1:23 Refund promised (ada)"."""
    return "\n".join(f"{moment(note.at_ms)} {note.text} ({note.username})" for note in notes)


def search_notes(text: str = "") -> QuerySet[MomentNote]:
    """Every note, newest first; with `text`, those containing it (any case)."""
    notes = MomentNote.objects.select_related("recording").defer("recording__raw").order_by("-created_at", "-id")
    text = text.strip()
    return notes.filter(text__icontains=text) if text else notes
