"""The audit log, reviews and legal holds."""

import ipaddress
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .models import AuditEvent, DeletionOutcome, LegalHold, Recording, ReviewState

# Range requests of one playback (seeking, buffering) come within this window of each other.
PLAYBACK_WINDOW = timedelta(minutes=10)
Action = AuditEvent.Action


def client_ip(request) -> str | None:
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
    user: AbstractBaseUser | None,
    ip_address: str | None,
    user_agent: str,
    action: str,
    recording: Recording | None = None,
    call_uuid: str = "",
    note: str = "",
) -> AuditEvent:
    """Add an event to the audit log: who (the user, their address and browser) did what."""
    return AuditEvent.objects.create(
        at=timezone.now(),
        user=user,
        username=user.get_username() if user else "",
        action=action,
        recording=recording,
        call_uuid=call_uuid or (recording.call_uuid if recording else ""),
        ip_address=ip_address,
        user_agent=(user_agent or "").replace("\x00", "")[:300],  # PostgreSQL refuses NUL
        note=note,
    )


CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-\d+/(?:\d+|\*)", re.ASCII)


def serves_first_byte(status: int, content_range: str | None) -> bool:
    """Whether a response hands out the start of the file, judged by what is served, not by what
    was asked (`bytes=-999999999` and `bytes=00-` ask for the whole file too): a whole body, or a
    part starting at byte 0. A part whose start cannot be read counts as the start."""
    if status != 206:
        return status == 200
    match = CONTENT_RANGE.fullmatch((content_range or "").strip())
    return match is None or int(match[1]) == 0


def record_listening(
    *,
    user: AbstractBaseUser,
    ip_address: str | None,
    user_agent: str,
    recording: Recording,
    action: str,
    status: int,
    content_range: str | None,
) -> AuditEvent | None:
    """Log a playback or download once, not once per Range request it makes: whoever has the file
    fetched its first byte, and that response is logged (a playback once in PLAYBACK_WINDOW)."""
    if not serves_first_byte(status, content_range):
        return None
    recent = AuditEvent.objects.filter(
        user=user, recording=recording, action=action, at__gte=timezone.now() - PLAYBACK_WINDOW
    )
    if action == Action.PLAY and recent.exists():
        return None
    return record_for(user, ip_address, user_agent, action, recording)


REVIEW_ACTIONS = {ReviewState.REVIEWED: Action.REVIEW, ReviewState.FLAGGED: Action.FLAG, "": Action.CLEAR_REVIEW}


@transaction.atomic
def set_review(
    *, user: AbstractBaseUser, ip_address: str | None, user_agent: str, recording: Recording, state: str, note: str
) -> None:
    """Mark a recording reviewed or flagged (or clear it); the log keeps every change."""
    recording.review_state = state
    recording.review_note = note
    recording.reviewed_at = timezone.now() if state else None
    recording.reviewed_by = user if state else None
    recording.save(update_fields=["review_state", "review_note", "reviewed_at", "reviewed_by"])
    record_for(user, ip_address, user_agent, REVIEW_ACTIONS[state], recording, note=note)


def active_hold(recording):
    return LegalHold.objects.covering(recording).select_related("placed_by").first()


def active_call_hold(call_uuid):
    """The hold on a whole call, if one is in force."""
    return LegalHold.objects.active().filter(call_uuid=call_uuid, recording=None).select_related("placed_by").first()


@dataclass
class PlacedHold:
    hold: LegalHold
    # Deletion batches that were sending one of the held recordings' deletion to Vobiz as the hold
    # was placed: the hold may have come too late for those recordings, and the placer is told.
    deletions_in_flight: list[int]
    already_deleted: int  # recordings it covers that were deleted at Vobiz before


@transaction.atomic
def place_hold(
    *,
    user: AbstractBaseUser,
    ip_address: str | None,
    user_agent: str,
    reason: str,
    recording: Recording | None = None,
    call_uuid: str = "",
) -> PlacedHold:
    """Hold a recording, or every recording of a call, against deletion.

    The recordings' rows are locked first, as a deletion locks a row to check it for holds: a
    deletion that has not reached a recording yet sees the hold; one already sending it to Vobiz
    is reported back.
    """
    covered = Recording.objects.filter(pk=recording.pk) if recording else Recording.objects.filter(call_uuid=call_uuid)
    list(covered.select_for_update().values_list("pk", flat=True))
    hold = LegalHold.objects.create(
        recording=recording,
        call_uuid="" if recording else call_uuid,
        reason=reason,
        placed_by=user,
        placed_at=timezone.now(),
    )
    record_for(user, ip_address, user_agent, Action.HOLD, recording, call_uuid=call_uuid, note=reason)
    in_flight = DeletionOutcome.objects.filter(recording__in=covered, status=DeletionOutcome.Status.ATTEMPTING)
    return PlacedHold(
        hold=hold,
        deletions_in_flight=sorted(set(in_flight.values_list("batch_id", flat=True))),
        already_deleted=covered.filter(deleted_at__isnull=False).count(),
    )


@transaction.atomic
def lift_hold(*, user: AbstractBaseUser, ip_address: str | None, user_agent: str, hold: LegalHold, reason: str) -> None:
    hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
    if hold.lifted_at is not None:
        return  # lifted meanwhile by someone else, whose reason stands
    hold.lifted_by = user
    hold.lifted_at = timezone.now()
    hold.lift_reason = reason
    hold.save(update_fields=["lifted_by", "lifted_at", "lift_reason"])
    record_for(user, ip_address, user_agent, Action.RELEASE, hold.recording, call_uuid=hold.call_uuid, note=reason)


def held_recording_ids(recording_ids):
    """Which of these recordings an active hold covers, in two queries whatever their number."""
    rows = Recording.objects.filter(pk__in=recording_ids)
    holds = LegalHold.objects.active()
    held = set(holds.filter(recording__in=rows).values_list("recording_id", flat=True))
    held_calls = holds.filter(recording=None, call_uuid__in=rows.values("call_uuid")).values("call_uuid")
    held |= set(rows.filter(call_uuid__in=held_calls).values_list("pk", flat=True))
    return held
