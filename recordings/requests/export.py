"""A person's copy of their calls: one ZIP streamed while each audio file is fetched from Vobiz.

It holds each recording's audio, its transcript as stored (masked), its call's record (CDR) as JSON,
the notes, and a manifest (CSV and JSON) naming each file with its SHA-256 and size and each time
with its offset in the zone chosen for the person. Hashes are taken as the bytes go by, so memory
holds a chunk at a time (and each recording's metadata, at most MAX_RECORDINGS), as in Download
ZIP; the ZIP's own SHA-256 is taken the same way and kept on the request and in the audit log once
the last byte has gone.
"""

import csv
import hashlib
import io
import json
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream

from recordings.audit_trail import Action, Actor, record_for
from recordings.auditing.audio_hashes import note_whole_audio
from recordings.auditing.bulk_download import body_chunks, open_upstream, report, unique_name
from recordings.browsing.call_records import call_detail
from recordings.browsing.exports import safe_cell
from recordings.models import MomentNote, Recording, SubjectRequest, Transcript
from recordings.requests import services
from recordings.requests.selectors import recordings_of
from recordings.vobiz_account import client_from_settings
from vobiz.client import INTERACTIVE

MAX_RECORDINGS = 1000
MANIFEST_COLUMNS = ("file", "kind", "recording_id", "call_uuid", "added", "size", "sha256")


@dataclass
class Entry:
    name: str
    kind: str
    recording: Recording | None = None
    size: int = 0
    sha256: str = ""


@dataclass
class Hashed:
    """Bytes passing through, counted and hashed."""

    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    size: int = 0

    def through(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.digest.update(chunk)
            self.size += len(chunk)
            yield chunk


def in_zone(value: datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    """ISO 8601 with the offset of the person's zone: 2026-11-20T15:30:00+05:30."""
    return value.astimezone(zone).isoformat() if value else ""


def start_export(*, actor: Actor, subject_request: SubjectRequest) -> Iterator[bytes]:
    """The ZIP's bytes, for a request whose copy may be made now (services.RequestRefused if not):
    checked here, before the first byte, rather than midway through the stream."""
    services.exportable(subject_request)
    count = recordings_of(subject_request).count()
    if count > MAX_RECORDINGS:
        raise services.RequestRefused(
            f"The person has {count:,} recordings and one export holds at most {MAX_RECORDINGS:,}."
        )
    return export_chunks(actor=actor, subject_request=subject_request)


def export_chunks(*, actor: Actor, subject_request: SubjectRequest) -> Iterator[bytes]:
    whole, files = Hashed(), list[Entry]()
    yield from whole.through(archive_chunks(actor=actor, subject_request=subject_request, files=files))
    services.record_export(
        actor=actor,
        request_id=subject_request.pk,
        sha256=whole.digest.hexdigest(),
        files=len(files),
        size=whole.size,
    )


def archive_chunks(*, actor: Actor, subject_request: SubjectRequest, files: list[Entry]) -> Iterator[bytes]:
    zone = zoneinfo.ZoneInfo(subject_request.time_zone)
    recordings = list(recordings_of(subject_request).defer("raw").order_by("add_time", "pk"))
    transcripts = {
        transcript.recording_id: transcript
        for transcript in Transcript.objects.filter(recording_id__in=[r.recording_id for r in recordings])
    }
    archive = ZipStream(compress_type=ZIP_STORED)
    taken: set[str] = set()
    missing: list[tuple[str, str]] = []

    def add(entry: Entry, data: bytes) -> None:
        entry.size, entry.sha256 = len(data), hashlib.sha256(data).hexdigest()
        files.append(entry)
        archive.add(data, entry.name, compress_type=ZIP_DEFLATED)

    note = f"in the copy for data-subject request #{subject_request.pk}"
    with client_from_settings(INTERACTIVE) as client:  # one connection pool for every file
        for recording in recordings:
            extension = recording.recording_format.lower() or "audio"
            name = unique_name(f"audio/{recording.recording_id}.{extension}", taken)
            upstream = open_upstream(recording, client)
            if isinstance(upstream, str):
                missing.append((name, upstream))
            else:
                with upstream:
                    record_for(actor, Action.DOWNLOAD, recording, note=note)

                    def whole(sha256: str, size: int, name: str = name, recording: Recording = recording) -> None:
                        files.append(Entry(name, "audio", recording, size=size, sha256=sha256))
                        note_whole_audio(actor=actor, recording=recording, sha256=sha256, size=size)

                    archive.add(body_chunks(upstream, name, missing, whole), name)
                    yield from archive.all_files()  # while this response is open
            transcript = transcripts.get(recording.recording_id)
            if transcript is not None and transcript.text:
                add(
                    Entry(f"transcripts/{recording.recording_id}.txt", "transcript", recording),
                    transcript.text.encode(),
                )
    for call_uuid in dict.fromkeys(r.call_uuid for r in recordings if r.call_uuid):
        record = call_detail(call_uuid).record
        if record is not None:
            first = next(r for r in recordings if r.call_uuid == call_uuid)
            data = json.dumps(record.data, indent=2, sort_keys=True, ensure_ascii=False).encode()
            add(Entry(unique_name(f"call_records/{call_uuid}.json", taken), "call record", first), data)
    add(Entry("notes.json", "notes"), notes_json(recordings, zone))
    if missing:
        add(Entry(unique_name("MISSING.txt", taken), "report"), report(missing, len(recordings)).encode())
    yield from archive.all_files()
    manifest = {
        "request": subject_request.pk,
        "reference": subject_request.reference,
        "time_zone": subject_request.time_zone,
        "made_at": in_zone(datetime.now(zone), zone),
        "recordings": [recording_facts(recording, zone) for recording in recordings],
        "files": [file_row(entry, zone) for entry in files],
    }
    archive.add(manifest_csv(files, zone), "manifest.csv", compress_type=ZIP_DEFLATED)
    archive.add(
        json.dumps(manifest, indent=2, ensure_ascii=False).encode(), "manifest.json", compress_type=ZIP_DEFLATED
    )
    yield from archive.finalize()


def recording_facts(recording: Recording, zone: zoneinfo.ZoneInfo) -> dict[str, object]:
    return {
        "recording_id": recording.recording_id,
        "call_uuid": recording.call_uuid,
        "from_number": recording.from_number,
        "to_number": recording.to_number,
        "added": in_zone(recording.add_time, zone),
        "duration_ms": recording.recording_duration_ms,
        "deleted_at_vobiz": in_zone(recording.deleted_at or recording.gone_at, zone) or None,
    }


def file_row(entry: Entry, zone: zoneinfo.ZoneInfo) -> dict[str, object]:
    recording = entry.recording
    return {
        "file": entry.name,
        "kind": entry.kind,
        "recording_id": recording.recording_id if recording else "",
        "call_uuid": recording.call_uuid if recording else "",
        "added": in_zone(recording.add_time, zone) if recording else "",
        "size": entry.size,
        "sha256": entry.sha256,
    }


def manifest_csv(files: list[Entry], zone: zoneinfo.ZoneInfo) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(MANIFEST_COLUMNS)
    for entry in files:
        row = file_row(entry, zone)
        writer.writerow([safe_cell(row[column]) for column in MANIFEST_COLUMNS])
    return out.getvalue().encode()


def notes_json(recordings: list[Recording], zone: zoneinfo.ZoneInfo) -> bytes:
    """The notes pinned to moments of the recordings, and their reviews' notes."""
    notes = (
        MomentNote.objects.filter(recording__in=recordings).select_related("recording").order_by("recording", "at_ms")
    )
    data = {
        "moment_notes": [
            {
                "recording_id": note.recording.recording_id,
                "at_seconds": note.at_seconds,
                "written": in_zone(note.created_at, zone),
                "text": note.text,
            }
            for note in notes
        ],
        "reviews": [
            {
                "recording_id": recording.recording_id,
                "state": recording.review_state,
                "reviewed": in_zone(recording.reviewed_at, zone),
                "note": recording.review_note,
            }
            for recording in recordings
            if recording.review_state or recording.review_note
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False).encode()
