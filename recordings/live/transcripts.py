"""A transcription callback's transcript: masked, then stored (or replaced) for its recording."""

from dataclasses import dataclass, replace

from django.db import DatabaseError, transaction
from django.utils import timezone

from recordings.browsing.freshness import data_changed
from recordings.live.callbacks import TranscriptionCallback
from recordings.live.masking import mask
from recordings.live.store import not_queued, queue_recording_fetch
from recordings.models import Recording, Transcript


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
    return MaskedTranscription(replace(callback, text=text.text, error=error.text), kinds)


def store_transcription(transcription: MaskedTranscription) -> Transcript:
    """Stores a masked transcription; a later one for the same recording replaces it.

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
    transcript, _ = Transcript.objects.update_or_create(
        recording_id=callback.recording_id, defaults=values, create_defaults={**values, "received_at": now}
    )
    data_changed()  # a replaced transcript keeps its id, and what it masks and says is searched
    if not Recording.objects.filter(recording_id=callback.recording_id).exists():
        try:
            with transaction.atomic():  # only this callback brings the transcript: a fetch not queued must not cost it
                queue_recording_fetch(callback.recording_id)
        except DatabaseError as exc:
            not_queued(callback.recording_id, exc)
    return transcript
