"""Many recordings as one ZIP, streamed while each file is fetched from Vobiz.

Files are fetched one after another and their chunks go straight into the archive, so memory holds
a chunk at a time, never a whole file or the archive. Entries are stored uncompressed (the audio is
compressed already) and carry the size Vobiz announced. A recording that cannot be fetched does
not break the archive: it is left out and listed in a MISSING.txt entry at the end. A MANIFEST.csv
entry at the end lists each complete file with its recording id, size and SHA-256, hashed as it
streamed into the archive (and kept or compared as the recording's audio hash).
"""

import csv
import io
import logging
from collections.abc import Callable, Iterator
from datetime import tzinfo

import requests
from django.db.models import QuerySet
from zipstream import ZIP_STORED, ZipStream

from recordings.audit_trail import Action, Actor, record_for
from recordings.auditing.audio_hashes import hashed, note_whole_audio
from recordings.browsing.exports import safe_cell
from recordings.browsing.media import MediaRefused, check, download_name, open_audio, upstream_body
from recordings.models import Recording
from recordings.vobiz_account import client_from_settings
from vobiz.client import INTERACTIVE, VobizClient, VobizError

logger = logging.getLogger(__name__)

MAX_RECORDINGS = 1000
REPORT_NAME = "MISSING.txt"
MANIFEST_NAME = "MANIFEST.csv"
FIELDS = (
    "recording_id",
    "call_uuid",
    "recording_url",
    "recording_format",
    "add_time",
    "from_number",
    "to_number",
    "deleted_at",
    "gone_at",
)


def unique_name(name: str, taken: set[str]) -> str:
    stem, dot, extension = name.rpartition(".")
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}_{n}{dot}{extension}"
    taken.add(candidate)
    return candidate


def open_upstream(recording: Recording, client: VobizClient) -> requests.Response | str:
    """The upstream response for a fetchable recording, else why it is left out."""
    if recording.deleted_at:
        return "it was deleted at Vobiz"
    if recording.gone_at:
        return "Vobiz no longer has it"
    try:
        upstream = open_audio(check(recording.recording_url), client=client)
    except MediaRefused as exc:
        return f"its audio may not be fetched: {exc}"
    except VobizError as exc:
        logger.warning("audio for %s not fetched for a ZIP: %s", recording.recording_id, exc)
        return f"the audio could not be fetched from Vobiz: {exc}"
    if upstream.status_code != 200:
        upstream.close()
        return f"Vobiz answered {upstream.status_code} for its audio"
    return upstream


def body_chunks(
    upstream: requests.Response, name: str, missing: list[tuple[str, str]], on_whole: Callable[[str, int], object]
) -> Iterator[bytes]:
    """The upstream body, `on_whole(sha256, size)` once it all came; a connection lost midway ends
    the entry short and says so in the report, as does a body whose size Vobiz did not announce
    (it may be whole or not: it is not in the manifest)."""
    received = 0
    whole: list[int] = []

    def noted(sha256: str, size: int) -> None:
        whole.append(size)
        on_whole(sha256, size)

    try:
        for chunk in hashed(
            upstream_body(upstream), status=upstream.status_code, headers=upstream.headers, on_whole=noted
        ):
            received += len(chunk)
            yield chunk
    except requests.RequestException as exc:
        logger.warning("audio for %s cut short in a ZIP: %s", name, type(exc).__name__)
        why = f"the connection to Vobiz was lost after {received} bytes; the file in this ZIP is incomplete"
        missing.append((name, why))
        return
    if not whole:
        why = f"Vobiz sent {received} bytes without announcing the file's size, or fewer than it announced"
        missing.append((name, why + ": it may be incomplete, and is not in the manifest"))


def manifest(files: list[tuple[str, str, int, str]]) -> str:
    """Each complete file of the archive: its name, recording id, size and SHA-256, as CSV."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["file", "recording_id", "size", "sha256"])
    writer.writerows([name, safe_cell(recording_id), size, sha256] for name, recording_id, size, sha256 in files)
    return text.getvalue()


def report(missing: list[tuple[str, str]], total: int) -> str:
    lines = [f"{len(missing)} of {total} selected recordings are missing or incomplete in this ZIP:", ""]
    lines += [f"{name}: {why}" for name, why in missing]
    return "\n".join(lines) + "\n"


def zip_chunks(recordings: QuerySet[Recording], *, actor: Actor, zone: tzinfo) -> Iterator[bytes]:
    """Yield the ZIP of `recordings` as bytes, logging a download for each recording it holds; its
    files are named by their time in `zone`, the viewer's: a response's ZIP streams after its
    request has ended, when the active zone is no longer the viewer's."""
    rows = list(recordings.only(*FIELDS))
    note = f"in a ZIP of {len(rows)} recordings"
    archive = ZipStream(compress_type=ZIP_STORED)
    taken: set[str] = set()
    missing: list[tuple[str, str]] = []
    files: list[tuple[str, str, int, str]] = []
    with client_from_settings(INTERACTIVE) as client:  # one connection pool for every file
        for recording in rows:
            name = download_name(recording, zone)
            upstream = open_upstream(recording, client)
            if isinstance(upstream, str):
                missing.append((name, upstream))
                continue
            with upstream:
                record_for(actor, Action.DOWNLOAD, recording, note=note)
                name = unique_name(name, taken)
                size = upstream.headers.get("Content-Length")

                def whole(sha256: str, length: int, name: str = name, recording: Recording = recording) -> None:
                    files.append((name, recording.recording_id, length, sha256))
                    note_whole_audio(actor=actor, recording=recording, sha256=sha256, size=length)

                archive.add(
                    body_chunks(upstream, name, missing, whole),
                    name,
                    size=int(size) if size and size.isdigit() else None,
                )
                # Written now, while this response is open, rather than queued.
                yield from archive.all_files()
    archive.add(manifest(files), MANIFEST_NAME)
    if missing:
        archive.add(report(missing, len(rows)), REPORT_NAME)
    yield from archive.finalize()
