"""A transcription callback's transcript: masked, then stored for its recording, as a new version
when it brings other text than the one stored."""

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from recordings.audit_trail import Action, Actor, record_for
from recordings.browsing.freshness import data_changed
from recordings.live.callbacks import TranscriptionCallback
from recordings.live.masking import mask
from recordings.live.store import not_queued, queue_recording_fetch
from recordings.models import Recording, Transcript, TranscriptVersion


@dataclass
class MaskedTranscription:
    """A transcription callback with its text and error masked, and what was masked in them."""

    callback: TranscriptionCallback
    kinds: list[str]

    @property
    def recording_id(self) -> str:
        return self.callback.recording_id


def masked_transcription(callback: TranscriptionCallback) -> MaskedTranscription:
    """The callback masked: before any transaction opens, so that masking a long transcript holds
    no lock and no connection (the error too: Vobiz may quote what it could not transcribe)."""
    text = mask(callback.text)
    error = mask(callback.error)
    kinds = text.kinds + [kind for kind in error.kinds if kind not in text.kinds]
    return MaskedTranscription(dataclasses.replace(callback, text=text.text, error=error.text), kinds)


def store_transcription(transcription: MaskedTranscription) -> Transcript:
    """Stores a masked transcription. A later one for the same recording that brings other text
    (or error) becomes the current version: the earlier is kept as a TranscriptVersion and the
    replacement is written to the audit log. The same text again changes nothing.

    Called inside the callback's transaction. Unknown recordings are fetched: the transcript
    waits for its recording under the recording's id, and is shown as soon as it is stored.
    """
    callback = transcription.callback
    now = timezone.now()
    values = {
        "call_uuid": callback.call_uuid,
        "text": callback.text,
        "error": callback.error,
        "duration_seconds": callback.duration_seconds,
        "charge": callback.charge,
        "rate": callback.rate,
        "masked": bool(transcription.kinds),
        "masked_kinds": transcription.kinds,
        "updated_at": now,
    }
    # Locked, so that two transcriptions of one recording at once number their versions in turn.
    transcript, created = Transcript.objects.select_for_update().get_or_create(
        recording_id=callback.recording_id, defaults={**values, "received_at": now}
    )
    changed = not created and (transcript.text, transcript.error) != (callback.text, callback.error)
    if changed:
        keep_as_version(transcript, values, now)
    if created or changed:
        data_changed()  # a replaced transcript keeps its id, and what it masks and says is searched
    if not Recording.objects.filter(recording_id=callback.recording_id).exists():
        try:
            with transaction.atomic():  # only this callback brings the transcript: a fetch not queued must not cost it
                queue_recording_fetch(callback.recording_id)
        except DatabaseError as exc:
            not_queued(callback.recording_id, exc)
    return transcript


# Who the audit log names for what a callback changed: Vobiz, not a user.
VOBIZ = Actor(user=None, ip_address=None, user_agent="Vobiz transcription callback")


def keep_as_version(transcript: Transcript, values: dict[str, Any], now: datetime) -> None:
    """Keeps the transcript's current text as its next earlier version, then makes `values` current."""
    number = transcript.versions.count() + 1
    TranscriptVersion.objects.create(
        transcript=transcript,
        number=number,
        call_uuid=transcript.call_uuid,
        text=transcript.text,
        error=transcript.error,
        masked_kinds=transcript.masked_kinds,
        charge=transcript.charge,
        received_at=transcript.updated_at,
        replaced_at=now,
    )
    before = digest_of(transcript.text, transcript.error)
    for name, value in values.items():
        setattr(transcript, name, value)
    transcript.save(update_fields=list(values))
    record_for(
        VOBIZ,
        Action.RETRANSCRIBED,
        Recording.objects.filter(recording_id=transcript.recording_id).first(),
        call_uuid=transcript.call_uuid,
        note=(
            f"A transcription callback from Vobiz replaced the transcript of {transcript.recording_id}:"
            f" version {number + 1} is current, version {number} is kept"
            f" (SHA-256 {before} → {digest_of(transcript.text, transcript.error)})."
        ),
    )


def digest_of(text: str, error: str) -> str:
    """A short fingerprint of a version's content, for the audit log's note."""
    return hashlib.sha256(f"{text}\x00{error}".encode()).hexdigest()[:16]
