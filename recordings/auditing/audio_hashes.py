"""A hash per recording: the SHA-256 and size of its whole audio as Vobiz first sent it.

The hash is taken as the bytes stream through the dashboard (a player fetching the whole file, a
ZIP, `manage.py verify_audio`): no second fetch, nothing buffered, and stored only when the stream
came to its end with every byte it announced. A later whole fetch is compared with it; audio that
differs is kept on the recording (when first seen, and the latest that differed) and written to
the audit log. It proves the audio Vobiz sends now is, or is not, the audio the dashboard first
served; not that the first was the call as it was recorded.
"""

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

import requests
from django.db.models import QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from recordings.audit_trail import Action, Actor, parse_content_range, record_for
from recordings.browsing.media import MediaRefused, check, open_audio, upstream_body
from recordings.formatting import byte_size, utc_time
from recordings.models import AudioHash, Recording
from vobiz.client import VobizClient, VobizError

# What a command run on the server writes to the audit log as, having no user, address or browser.
VERIFIER = Actor(user=None, ip_address=None, user_agent="manage.py verify_audio")


class Check(StrEnum):
    HASHED = "unhashed, now hashed"
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    FAILED = "failed"


def whole_size(status: int, headers: Mapping[str, str]) -> int | None:
    """The size of the whole file when the response announces that it brings all of it: a 200 with
    its Content-Length, or a 206 whose one range runs from the first byte to the last of a known
    total (a player's `bytes=0-`). None for a part, or a body whose size is not announced (a
    chunked 200) or is not the file's own (a Content-Encoding): no end could be told from a cut.
    None too for a message with both a Transfer-Encoding and a Content-Length: it is malformed
    (RFC 9112, 6.3), and parsers disagree on where its body ends."""
    if headers.get("Content-Encoding", "identity").strip().lower() != "identity":
        return None
    if headers.get("Transfer-Encoding") is not None and headers.get("Content-Length") is not None:
        return None
    if status == 200:
        length = headers.get("Content-Length", "").strip()
        return int(length) if length.isdigit() else None
    if status == 206:
        part = parse_content_range(headers.get("Content-Range"))
        if part and part.first == 0 and part.total is not None and part.last + 1 == part.total:
            return part.total
    return None


def hashed(
    chunks: Iterable[bytes], *, status: int, headers: Mapping[str, str], on_whole: Callable[[str, int], object]
) -> Iterator[bytes]:
    """The chunks, passed on as they come; when they made the whole file, every byte its size
    announced, `on_whole(sha256, size)`. A part, a size not announced, a stream closed early or cut
    short is not hashed."""
    expected = whole_size(status, headers)
    if expected is None:
        yield from chunks
        return
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        yield chunk
    if size == expected:
        on_whole(digest.hexdigest(), size)


def note_whole_audio(*, actor: Actor, recording: Recording, sha256: str, size: int) -> Check:
    """Keep the first hash of a recording's whole audio, or compare a later one with it: audio that
    differs is kept as the latest change and logged, as done by `actor` (whose fetch saw it), once
    for each new difference rather than at every fetch, however many fetches see it at once."""
    now = timezone.now()
    stored, created = AudioHash.objects.get_or_create(
        recording=recording, defaults={"audio_sha256": sha256, "audio_size": size, "hashed_at": now}
    )
    if created:
        return Check.HASHED
    if (stored.audio_sha256, stored.audio_size) == (sha256, size):
        return Check.UNCHANGED
    # Compared in the update itself: of two fetches that see the same new audio, one updates the
    # row, and only that one logs it.
    updated = (
        AudioHash.objects.filter(pk=stored.pk)
        .exclude(changed_sha256=sha256, changed_size=size)
        .update(changed_at=Coalesce("changed_at", Value(now)), changed_sha256=sha256, changed_size=size)
    )
    if updated:
        record_for(actor, Action.AUDIO_CHANGED, recording, note=change_note(stored, sha256=sha256, size=size))
    return Check.CHANGED


def change_note(stored: AudioHash, *, sha256: str, size: int) -> str:
    return (
        f"first hashed {utc_time(stored.hashed_at)}: {stored.audio_sha256} "
        f"({byte_size(stored.audio_size)}); now {sha256} ({byte_size(size)})"
    )


def served_chunks(upstream: requests.Response, *, actor: Actor, recording: Recording) -> Iterator[bytes]:
    """The body of an audio response as it streams to a user, its whole file hashed on the way."""

    def note(sha256: str, size: int) -> None:
        note_whole_audio(actor=actor, recording=recording, sha256=sha256, size=size)

    return hashed(upstream_body(upstream), status=upstream.status_code, headers=upstream.headers, on_whole=note)


@dataclass(frozen=True)
class Verified:
    recording_id: str
    check: Check
    detail: str = ""


def verify_recording(recording: Recording, *, client: VobizClient, actor: Actor = VERIFIER) -> Verified:
    """Fetch a recording's whole audio through the same checks as a player and compare its hash."""

    def failed(why: str) -> Verified:
        return Verified(recording.recording_id, Check.FAILED, why)

    try:
        upstream = open_audio(check(recording.recording_url), client=client)
    except MediaRefused as exc:
        return failed(f"its audio may not be fetched: {exc}")
    except VobizError as exc:
        return failed(f"the audio could not be fetched from Vobiz: {exc}")
    checks: list[Check] = []
    with upstream:
        if upstream.status_code != 200:
            return failed(f"Vobiz answered {upstream.status_code} for its audio")

        def note(sha256: str, size: int) -> None:
            checks.append(note_whole_audio(actor=actor, recording=recording, sha256=sha256, size=size))

        try:
            for _ in hashed(upstream_body(upstream), status=200, headers=upstream.headers, on_whole=note):
                pass
        except requests.RequestException as exc:
            return failed(f"the connection to Vobiz was lost: {type(exc).__name__}")
    if not checks:
        return failed("the audio came short of the size Vobiz announced, or Vobiz announced none")
    if checks[0] == Check.CHANGED:
        stored = AudioHash.objects.get(recording=recording)
        return Verified(
            recording.recording_id,
            Check.CHANGED,
            f"first hash {stored.audio_sha256} ({byte_size(stored.audio_size)}), now {stored.changed_sha256} "
            f"({byte_size(stored.changed_size)})",
        )
    return Verified(recording.recording_id, checks[0])


def recordings_to_verify(*, sample: int | None) -> QuerySet[Recording]:
    """The recordings still at Vobiz: all of them, or `sample` of them drawn at random."""
    present = Recording.objects.present()
    return present.order_by("?")[:sample] if sample else present.order_by("pk")
