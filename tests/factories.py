"""Recordings made directly in the database, for page tests that need no sync."""

import itertools
from datetime import datetime, timedelta, timezone

from recordings.live.callbacks import TranscriptionCallback
from recordings.live.transcripts import masked_transcription, store_transcription
from recordings.models import Recording
from recordings.sync.normalise import normalise

_sequence = itertools.count(1)
BASE_TIME = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def api_object(**overrides):
    n = next(_sequence)
    obj = {
        "recording_id": f"rec-{n:06d}-aaaa-bbbb-cccc",
        "call_uuid": f"call-{n:06d}-dddd-eeee-ffff",
        "recording_type": "call",
        "recording_format": "mp3",
        "recording_url": f"http://127.0.0.1:9/media/rec-{n}.mp3",
        "add_time": (BASE_TIME - timedelta(minutes=n)).isoformat(),
        "recording_duration_ms": "65000.00000",
        "from_number": "+919876500000",
        "to_number": "+918012300000",
        "conference_name": None,
        "rounded_recording_duration": 120,
        "recording_storage_duration": 3,
        "recording_storage_rate": 0.005,
        "monthly_recording_storage_amount": 0,
        "resource_uri": f"/v1/Account/MA_TEST/Recording/rec-{n}/",
    }
    obj.update(overrides)
    return obj


def make_recording(**overrides):
    now = datetime.now(timezone.utc)
    return Recording.objects.create(**normalise(api_object(**overrides)), first_synced_at=now, last_synced_at=now)


def make_recordings(count, **overrides):
    now = datetime.now(timezone.utc)
    return Recording.objects.bulk_create(
        Recording(**normalise(api_object(**overrides)), first_synced_at=now, last_synced_at=now) for _ in range(count)
    )


def transcribe(recording_id, text, call_uuid=""):
    return store_transcription(
        masked_transcription(
            TranscriptionCallback(
                recording_id=recording_id,
                call_uuid=call_uuid,
                text=text,
                error="",
                duration_seconds=None,
                charge=None,
                rate=None,
            )
        )
    )
