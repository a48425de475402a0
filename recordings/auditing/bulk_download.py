"""Many recordings as one ZIP, streamed while each file is fetched from Vobiz.

Files are fetched one after another and their chunks go straight into the archive, so memory holds
a chunk at a time, never a whole file or the archive. Entries are stored uncompressed (the audio is
compressed already) and carry the size Vobiz announced. A recording that cannot be fetched does
not break the archive: it is left out and listed in a MISSING.txt entry at the end.
"""

import logging
from collections.abc import Iterator
from datetime import tzinfo

import requests
from django.db.models import QuerySet
from zipstream import ZIP_STORED, ZipStream

from recordings.audit_trail import Action, Actor, record_for
from recordings.browsing.media import CHUNK_SIZE, MediaRefused, check, download_name, open_audio
from recordings.models import Recording
from recordings.vobiz_account import client_from_settings
from vobiz.client import INTERACTIVE, VobizClient, VobizError

logger = logging.getLogger(__name__)

MAX_RECORDINGS = 1000
REPORT_NAME = "MISSING.txt"
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


def body_chunks(upstream: requests.Response, name: str, missing: list[tuple[str, str]]) -> Iterator[bytes]:
    """The upstream body; a connection lost midway ends the entry short and says so in the report."""
    received = 0
    try:
        for chunk in upstream.iter_content(CHUNK_SIZE):
            received += len(chunk)
            yield chunk
    except requests.RequestException as exc:
        logger.warning("audio for %s cut short in a ZIP: %s", name, type(exc).__name__)
        why = f"the connection to Vobiz was lost after {received} bytes; the file in this ZIP is incomplete"
        missing.append((name, why))


def report(missing: list[tuple[str, str]], total: int) -> str:
    lines = [f"{len(missing)} of {total} selected recordings are missing or incomplete in this ZIP:", ""]
    lines += [f"{name}: {why}" for name, why in missing]
    return "\n".join(lines) + "\n"


def zip_chunks(recordings: QuerySet[Recording], *, actor: Actor, zone: tzinfo | None = None) -> Iterator[bytes]:
    """Yield the ZIP of `recordings` as bytes, logging a download for each recording it holds; its
    files are named by their time in `zone` (a response's ZIP streams after its request has ended:
    the viewer's, given), else the zone active as it is made."""
    rows = list(recordings.only(*FIELDS))
    note = f"in a ZIP of {len(rows)} recordings"
    archive = ZipStream(compress_type=ZIP_STORED)
    taken: set[str] = set()
    missing: list[tuple[str, str]] = []
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
                archive.add(
                    body_chunks(upstream, name, missing), name, size=int(size) if size and size.isdigit() else None
                )
                # Written now, while this response is open, rather than queued.
                yield from archive.all_files()
    if missing:
        archive.add(report(missing, len(rows)), REPORT_NAME)
    yield from archive.finalize()
