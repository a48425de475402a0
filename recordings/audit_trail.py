"""The audit log: who (the user, their address and browser) did what, and when."""

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils import timezone

from recordings.models import AuditEvent, Recording

# A listen logged this recently covers the same user's later responses of that recording (seeking,
# buffering): counted from the logged event, not the latest request, so a playback longer than this
# logs again.
PLAYBACK_WINDOW = timedelta(minutes=10)
Action = AuditEvent.Action


@dataclass(frozen=True)
class Actor:
    """Who does what the audit log keeps: made once per request, or from what a deletion batch kept."""

    user: User | None  # None for a batch whose requester's account is gone, or a command (verify_audio)
    ip_address: str | None
    user_agent: str

    @property
    def username(self) -> str:
        """The name the log keeps, which outlives the user account ("" with none)."""
        return self.user.get_username() if self.user else ""


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the outermost of the TRUSTED_PROXY_COUNT proxies in front saw it.

    Each proxy appends the address it was connected from to X-Forwarded-For, so the address that
    many places from the right is the outermost proxy's; whatever is left of it the client wrote
    itself. Without trusted proxies the header is ignored. (Hand-written rather than taken from
    ipware, whose default also trusts a list of other headers any client can send.)
    """
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXY_COUNT
    if not proxies:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if not hops:
        return remote
    candidate = hops[-min(proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def record_for(
    actor: Actor, action: str, recording: Recording | None = None, call_uuid: str = "", note: str = ""
) -> AuditEvent:
    """Add an event to the audit log: who (the user, their address and browser) did what."""
    return AuditEvent.objects.create(
        at=timezone.now(),
        user=actor.user,
        username=actor.username,
        action=action,
        recording=recording,
        call_uuid=call_uuid or (recording.call_uuid if recording else ""),
        ip_address=actor.ip_address,
        user_agent=(actor.user_agent or "").replace("\x00", "")[:300],  # PostgreSQL refuses NUL
        note=note,
    )


CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.ASCII)
SERVED_AUDIO = (200, 206)  # a whole body or parts of it; a 416 or a HEAD serves nothing


@dataclass(frozen=True)
class ContentRange:
    """The part a 206 serves: its first and last byte, and the whole file's size (None: `*`, unknown)."""

    first: int
    last: int
    total: int | None


def parse_content_range(value: str | None) -> ContentRange | None:
    """A Content-Range header of one part (`bytes 0-999/1000`), or None when it is not one."""
    match = CONTENT_RANGE.fullmatch((value or "").strip())
    if match is None:
        return None
    return ContentRange(int(match[1]), int(match[2]), None if match[3] == "*" else int(match[3]))


def serves_first_byte(status: int, content_range: str | None) -> bool:
    """Whether a response hands out the start of the file, judged by what is served, not by what
    was asked (`bytes=-999999999` and `bytes=00-` ask for the whole file too): a whole body, or a
    part starting at byte 0. A part whose start cannot be read counts as the start."""
    if status != 206:
        return status == 200
    part = parse_content_range(content_range)
    return part is None or part.first == 0


def record_listening(
    *, actor: Actor, recording: Recording, action: str, status: int, content_range: str | None
) -> AuditEvent | None:
    """Log each response that serves audio bytes, whatever part of the file (a decoder resyncs
    from any byte), except what one listen or download already logged in PLAYBACK_WINDOW: a
    playback (its seeks and buffering) logs once unless the user played or downloaded the
    recording within the window; a download logs unless they downloaded it within the window,
    and always when it starts from the first byte, so each whole download is counted."""
    if status not in SERVED_AUDIO:
        return None
    downloading = action == Action.DOWNLOAD
    if not (downloading and serves_first_byte(status, content_range)):
        logged_by = [Action.DOWNLOAD] if downloading else list(AuditEvent.LISTENING)
        recent = AuditEvent.objects.filter(
            user=actor.user, recording=recording, action__in=logged_by, at__gte=timezone.now() - PLAYBACK_WINDOW
        )
        if recent.exists():
            return None
    return record_for(actor, action, recording)


def redact_events(*, event_ids: Iterable[int], redact: Callable[[str], str], actor: Actor, reason: str) -> int:
    """Apply `redact` to each personal text field of those events (their `note`), and log one event
    (action "redact") naming the redacted events' ids and the reason. Returns how many events changed."""
    changed = []
    for event in AuditEvent.objects.filter(pk__in=list(event_ids)).only("pk", "note"):
        redacted = redact(event.note)
        if redacted != event.note:
            event.note = redacted
            changed.append(event)
    AuditEvent.objects.bulk_update(changed, ["note"], batch_size=500)
    ids = ", ".join(str(event.pk) for event in sorted(changed, key=lambda event: event.pk))
    record_for(actor, Action.REDACT, note=f"{reason}: events {ids or 'none'}")
    return len(changed)
