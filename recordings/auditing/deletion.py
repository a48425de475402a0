"""Deleting recordings at Vobiz, one or many, with each recording's outcome kept.

A deletion is written first as a batch naming the exact recordings the auditor is shown: one
pending outcome for each it will delete, one settled as held for each on legal hold, and the count
of those deleted or gone already, left out. Nothing is sent to Vobiz until the auditor confirms that
batch, and then only the pending recordings, less any deleted or put on hold since. A task works
through the batch under a lock of its own, so one worker at a time holds it and another resumes it
if that worker dies.

Each recording is checked and marked as being deleted under a lock on its row, the same lock a
legal hold takes, before its deletion is sent: a hold placed first keeps it, and one placed while
Vobiz deletes it is reported to whoever placed it and on the outcome. A worker resuming a batch asks
Vobiz about a recording left marked as being deleted rather than send the deletion twice. When
Vobiz stops answering the batch stops, and what was not attempted stays listed as such.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Exists, Max, Min, QuerySet, Sum
from django.utils import timezone

from recordings.audit_trail import Actor, record_for
from recordings.locks import DatabaseLock, LockHeld, live_holder
from recordings.models import AuditEvent, DeletionBatch, DeletionOutcome, LegalHold, Recording, RecordingQuerySet
from recordings.vobiz_account import client_from_settings
from vobiz.client import INTERACTIVE, VobizClient, VobizError, VobizNotFound, VobizUnavailable

logger = logging.getLogger(__name__)

MAX_PER_BATCH = 5_000
# How long an auditor has to confirm what the confirmation page showed.
CONFIRM_WITHIN = timedelta(hours=1)
# A worker refreshes its batch's lock as it goes; one that stops for this long loses the batch.
BATCH_LOCK_TTL = timedelta(minutes=2)
Status = DeletionOutcome.Status
RETRYABLE = (Status.PENDING, Status.ATTEMPTING, Status.FAILED)
UNSETTLED = (Status.PENDING, Status.ATTEMPTING)


class DeletionRefused(Exception):
    """The deletion cannot go ahead as asked; the message says why, for the auditor."""


@dataclass(frozen=True)
class Choice:
    """What a deletion of the chosen recordings does, as its confirmation page states it.

    `to_delete` is exactly what confirming deletes (less any deleted or put on hold since); the
    recordings on hold are kept, and those deleted or gone at Vobiz already are left out.
    """

    to_delete: int
    held: int
    left_out: int
    storage_amount: Decimal | None = None  # what storing `to_delete` costs a month: what it frees
    oldest: datetime | None = None
    newest: datetime | None = None
    too_many: bool = False  # more than MAX_PER_BATCH to delete: none is

    @property
    def refusal(self) -> str:
        """Why nothing is deleted, or "" when the deletion can go ahead."""
        if self.too_many:
            return f"At most {MAX_PER_BATCH:,} recordings can be deleted at once. Narrow the filters."
        if self.to_delete:
            return ""
        if self.held:
            return "Nothing can be deleted: every chosen recording still at Vobiz is on legal hold."
        if self.left_out:
            return "Nothing can be deleted: the chosen recordings are deleted or gone at Vobiz already."
        return "Nothing can be deleted: no recording is chosen."


class NothingToDelete(DeletionRefused):
    """No batch is written: `choice` says how many were chosen, held and left out."""

    def __init__(self, choice: Choice):
        super().__init__(choice.refusal)
        self.choice = choice


def lock_name(batch_id: int) -> str:
    return f"deletion-batch-{batch_id}"


HELD_AT_ASKING = "on legal hold when the deletion was asked: kept"


@transaction.atomic
def prepare_deletion(
    *,
    actor: Actor,
    recordings: RecordingQuerySet,
    scope: str = "",
    filter_query: str = "",
) -> DeletionBatch:
    """A batch of exactly these recordings, waiting for its confirmation: one pending outcome for
    each recording still at Vobiz and on no hold, one settled as held for each on hold.

    Nothing to delete, or more than MAX_PER_BATCH, is refused whole (NothingToDelete): deleting some
    of a view the auditor chose would act on recordings nobody picked.
    """
    present = recordings.present().annotate(held=Exists(LegalHold.objects.covering_row())).order_by("pk")
    ids = list(present.filter(held=False).values_list("pk", flat=True)[: MAX_PER_BATCH + 1])
    held_ids = list(present.filter(held=True).values_list("pk", flat=True)[: MAX_PER_BATCH + 1])
    left_out = recordings.removed().count()
    if len(ids) > MAX_PER_BATCH or len(held_ids) > MAX_PER_BATCH or not ids:
        too_many = len(ids) > MAX_PER_BATCH or len(held_ids) > MAX_PER_BATCH
        raise NothingToDelete(Choice(to_delete=len(ids), held=len(held_ids), left_out=left_out, too_many=too_many))
    batch = DeletionBatch.objects.create(
        requested_by=actor.user,
        requested_at=timezone.now(),
        ip_address=actor.ip_address,
        user_agent=actor.user_agent[:300],
        scope=scope,
        filter_query=filter_query,
        left_out=left_out,
    )
    DeletionOutcome.objects.bulk_create(
        [DeletionOutcome(batch=batch, recording_id=pk) for pk in ids]
        + [DeletionOutcome(batch=batch, recording_id=pk, status=Status.HELD, message=HELD_AT_ASKING) for pk in held_ids]
    )
    return batch


def choice_of(batch: DeletionBatch) -> Choice:
    """What confirming `batch` deletes, as its confirmation page states it: from what it stores."""
    pending = Recording.objects.filter(pk__in=batch.outcomes.filter(status=Status.PENDING).values("recording_id"))
    figures = pending.aggregate(
        to_delete=Count("pk"),
        storage_amount=Sum("monthly_recording_storage_amount"),
        oldest=Min("add_time"),
        newest=Max("add_time"),
    )
    return Choice(held=batch.outcomes.filter(status=Status.HELD).count(), left_out=batch.left_out, **figures)


@transaction.atomic
def confirm_deletion(*, user: User, batch_id: int, reason: str) -> DeletionBatch:
    """The requester confirms the batch they were shown; from now on a task may work through it."""
    batch = DeletionBatch.objects.select_for_update().filter(pk=batch_id, requested_by=user).first()
    if batch is None:
        raise DeletionRefused("That deletion does not exist or is not yours to confirm.")
    if batch.confirmed_at is not None:
        raise DeletionRefused("That deletion was confirmed already.")
    if timezone.now() - batch.requested_at > CONFIRM_WITHIN:
        raise DeletionRefused("That confirmation is too old: choose the recordings again.")
    batch.reason = reason
    batch.confirmed_at = timezone.now()
    batch.save(update_fields=["reason", "confirmed_at"])
    return batch


def start_deletion(*, actor: Actor, recordings: RecordingQuerySet, reason: str) -> DeletionBatch:
    """Prepare and confirm in one step, where the confirmation showed these very recordings."""
    if actor.user is None:  # only an actor rebuilt from a batch whose requester's account is gone
        raise DeletionRefused("A deletion is started by a signed-in auditor.")
    batch = prepare_deletion(actor=actor, recordings=recordings)
    return confirm_deletion(user=actor.user, batch_id=batch.pk, reason=reason)


def start_scheduled_deletion(
    *, actor: Actor, recordings: RecordingQuerySet, reason: str, filter_query: str
) -> DeletionBatch:
    """A deletion nobody confirms on a page: a retention rule's, whose approval stood for the
    confirmation. Written confirmed, for a task to work through like any other."""
    batch = prepare_deletion(actor=actor, recordings=recordings, scope="view", filter_query=filter_query)
    batch.reason, batch.confirmed_at = reason, timezone.now()
    batch.save(update_fields=["reason", "confirmed_at"])
    return batch


def retry_rest(*, actor: Actor, batch: DeletionBatch) -> DeletionBatch:
    """A new batch for what the last one did not delete (stopped, failed or never attempted)."""
    rest = Recording.objects.filter(pk__in=batch.outcomes.filter(status__in=RETRYABLE).values("recording_id"))
    return start_deletion(actor=actor, recordings=rest, reason=batch.reason)


def unfinished_batches() -> QuerySet[DeletionBatch]:
    return DeletionBatch.objects.filter(confirmed_at__isnull=False, finished_at__isnull=True)


def is_being_processed(batch: DeletionBatch) -> bool:
    return live_holder(lock_name(batch.pk)) is not None


def process_batch(batch_id: int, client: VobizClient | None = None) -> bool:
    """Work through a confirmed batch; False when another worker holds it already."""
    batch = DeletionBatch.objects.select_related("requested_by").get(pk=batch_id)
    if batch.confirmed_at is None or batch.finished_at is not None:
        return True
    lock = DatabaseLock(lock_name(batch.pk), ttl=BATCH_LOCK_TTL)
    try:
        lock.acquire()
    except LockHeld:
        return False
    try:
        try:
            client = client or client_from_settings(INTERACTIVE)
        except VobizError as exc:  # the credentials are missing
            batch.stopped_reason = str(exc)
        else:
            for outcome_id in batch.outcomes.filter(status__in=UNSETTLED).order_by("id").values_list("id", flat=True):
                lock.refresh(every=timedelta(seconds=10))
                if not delete_one(batch, outcome_id, client):
                    break
        # Unless stopped meanwhile (stop_batch), which said why already.
        unfinished = DeletionBatch.objects.filter(pk=batch.pk, finished_at__isnull=True)
        unfinished.update(finished_at=timezone.now(), stopped_reason=batch.stopped_reason)
    finally:
        lock.release()
    return True


def stop_batch(*, batch_id: int, reason: str) -> bool:
    """Stop a confirmed batch short: what it has not attempted stays pending, listed as such, for
    "Try the rest again"; a worker going through it stops before its next recording. False when
    the batch had finished already."""
    stopping = DeletionBatch.objects.filter(pk=batch_id, confirmed_at__isnull=False, finished_at__isnull=True)
    return stopping.update(finished_at=timezone.now(), stopped_reason=reason) > 0


def delete_one(batch: DeletionBatch, outcome_id: int, client: VobizClient) -> bool:
    """Settle one outcome; False when Vobiz stopped answering or the batch was stopped."""
    with transaction.atomic():
        # Locked as stop_batch's update locks it: once stopped, no further recording is attempted.
        if not DeletionBatch.objects.select_for_update().filter(pk=batch.pk, finished_at__isnull=True).exists():
            return False
        outcome = DeletionOutcome.objects.select_for_update().select_related("recording").get(pk=outcome_id)
        recording = Recording.objects.select_for_update().get(pk=outcome.recording_id)  # as a hold locks it
        if outcome.status not in UNSETTLED:
            return True
        if recording.deleted_at is not None:
            settle(outcome, Status.ALREADY_GONE, "deleted already, by another deletion")
            return True
        if LegalHold.objects.covering(recording).exists():
            settle(outcome, Status.HELD, "put on legal hold after the deletion was asked: kept")
            return True
        resuming = outcome.status == Status.ATTEMPTING
        settle(outcome, Status.ATTEMPTING, "")
    try:
        if resuming and not exists_at_vobiz(client, recording.recording_id):
            tombstone(batch, outcome, Status.DELETED, "deleted at Vobiz by an earlier attempt")
            return True
        client.delete_recording(recording.recording_id)
    except VobizNotFound:
        tombstone(batch, outcome, Status.ALREADY_GONE, "Vobiz no longer had it")
    except VobizUnavailable as exc:
        # Whether this one went through is unknown; the next attempt settles it (a 404 then means it
        # did). Stop rather than hammer a Vobiz that is down.
        batch.stopped_reason = f"Vobiz stopped answering: {exc}"
        settle(outcome, Status.FAILED, str(exc), batch)
        return False
    except VobizError as exc:
        settle(outcome, Status.FAILED, str(exc), batch)
    else:
        tombstone(batch, outcome, Status.DELETED, "")
    return True


def exists_at_vobiz(client: VobizClient, recording_id: str) -> bool:
    try:
        client.get_recording(recording_id)
    except VobizNotFound:
        return False
    return True


def settle(outcome: DeletionOutcome, status: str, message: str, batch: DeletionBatch | None = None) -> None:
    outcome.status = status
    outcome.message = message
    outcome.save(update_fields=["status", "message"])
    if batch is not None:
        log(batch, AuditEvent.Action.DELETE_FAILED, outcome.recording, message)


@transaction.atomic
def tombstone(batch: DeletionBatch, outcome: DeletionOutcome, status: str, message: str) -> None:
    recording = Recording.objects.select_for_update().get(pk=outcome.recording_id)
    if LegalHold.objects.covering(recording).exists():
        message = " ".join(filter(None, [message, "(a legal hold was placed while Vobiz was deleting it)"]))
    recording.deleted_at = timezone.now()
    recording.deleted_by = batch.requested_by
    recording.deletion_reason = batch.reason
    recording.save(update_fields=["deleted_at", "deleted_by", "deletion_reason"])
    settle(outcome, status, message)
    log(batch, AuditEvent.Action.DELETE, outcome.recording, batch.reason)


def log(batch: DeletionBatch, action: str, recording: Recording, note: str) -> None:
    """Log what a worker did to a recording as done by whoever asked for the batch, from where they asked."""
    requester = Actor(user=batch.requested_by, ip_address=batch.ip_address, user_agent=batch.user_agent)
    record_for(requester, action, recording, note=note)


def summary(batch: DeletionBatch) -> list[tuple[str, str, int]]:
    """How many outcomes are in each status, every status named."""
    counts = dict(batch.outcomes.order_by().values_list("status").annotate(count=Count("id")))
    return [(Status(status).label, status, counts.get(status, 0)) for status in Status.values]
