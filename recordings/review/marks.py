"""A recording marked reviewed or flagged (with a note), or the mark cleared; each in the audit log."""

from django.db import transaction
from django.utils import timezone

from recordings.audit_trail import Action, Actor, record_for
from recordings.models import Recording, ReviewState

REVIEW_ACTIONS = {ReviewState.REVIEWED: Action.REVIEW, ReviewState.FLAGGED: Action.FLAG, "": Action.CLEAR_REVIEW}


@transaction.atomic
def set_review(*, actor: Actor, recording: Recording, state: str, note: str) -> None:
    """Mark a recording reviewed or flagged (or clear it); the log keeps every change."""
    recording.review_state = state
    recording.review_note = note
    recording.reviewed_at = timezone.now() if state else None
    recording.reviewed_by = actor.user if state else None
    recording.save(update_fields=["review_state", "review_note", "reviewed_at", "reviewed_by"])
    record_for(actor, REVIEW_ACTIONS[state], recording, note=note)
