"""Legal holds on a recording or a whole call: placed and lifted with a reason, each in the audit log;
a held recording is never deleted."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from recordings.audit_trail import Action, Actor, record_for
from recordings.models import DeletionOutcome, LegalHold, Recording


def active_hold(recording: Recording) -> LegalHold | None:
    return LegalHold.objects.covering(recording).select_related("placed_by").first()


def active_call_hold(call_uuid: str) -> LegalHold | None:
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
def place_hold(*, actor: Actor, reason: str, recording: Recording | None = None, call_uuid: str = "") -> PlacedHold:
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
        placed_by=actor.user,
        placed_at=timezone.now(),
    )
    record_for(actor, Action.HOLD, recording, call_uuid=call_uuid, note=reason)
    in_flight = DeletionOutcome.objects.filter(recording__in=covered, status=DeletionOutcome.Status.ATTEMPTING)
    return PlacedHold(
        hold=hold,
        deletions_in_flight=sorted(set(in_flight.values_list("batch_id", flat=True))),
        already_deleted=covered.filter(deleted_at__isnull=False).count(),
    )


@transaction.atomic
def lift_hold(*, actor: Actor, hold: LegalHold, reason: str) -> None:
    hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
    if hold.lifted_at is not None:
        return  # lifted meanwhile by someone else, whose reason stands
    hold.lifted_by = actor.user
    hold.lifted_at = timezone.now()
    hold.lift_reason = reason
    hold.save(update_fields=["lifted_by", "lifted_at", "lift_reason"])
    record_for(actor, Action.RELEASE, hold.recording, call_uuid=hold.call_uuid, note=reason)
