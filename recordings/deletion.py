"""Deleting recordings at Vobiz, one or many, with each recording's outcome kept.

A deletion first writes a batch with one pending outcome per recording, then works through it.
Each recording is deleted at Vobiz and then made a tombstone in one step that either completes or
leaves the recording as it was; when Vobiz stops answering the batch stops, and what was not
attempted stays listed as such. Held recordings are never sent to Vobiz.
"""

import logging

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from . import audit, jobs
from .models import AuditEvent, DeletionBatch, DeletionOutcome, LegalHold, Recording
from .vobiz import INTERACTIVE, VobizError, VobizNotFound, VobizUnavailable, client_from_settings

logger = logging.getLogger(__name__)

MAX_PER_BATCH = 5_000
Status = DeletionOutcome.Status
RETRYABLE = (Status.PENDING, Status.FAILED)


def deletable(queryset):
    """Recordings that a deletion can still act on: not deleted already."""
    return queryset.filter(deleted_at__isnull=True)


def start_deletion(request, queryset, reason):
    """Write the batch and its pending outcomes, then work through it in the background."""
    ids = list(deletable(queryset).order_by("pk").values_list("pk", flat=True)[:MAX_PER_BATCH])
    with transaction.atomic():
        batch = DeletionBatch.objects.create(
            requested_by=request.user,
            requested_at=timezone.now(),
            reason=reason,
            ip_address=audit.client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:300],
        )
        DeletionOutcome.objects.bulk_create(DeletionOutcome(batch=batch, recording_id=pk) for pk in ids)
    jobs.run_in_background(f"deletion-{batch.pk}", process_batch, batch.pk)
    return batch


def process_batch(batch_id, client=None):
    batch = DeletionBatch.objects.select_related("requested_by").get(pk=batch_id)
    pending = batch.outcomes.filter(status=Status.PENDING).select_related("recording")
    try:
        client = client or client_from_settings(INTERACTIVE)
        for outcome in pending:
            # Checked one by one, right before deleting: a hold may be placed while the batch runs.
            if LegalHold.objects.covering(outcome.recording).exists():
                settle(outcome, Status.HELD, "on legal hold")
                continue
            try:
                client.delete_recording(outcome.recording.recording_id)
            except VobizNotFound:
                tombstone(batch, outcome, Status.ALREADY_GONE, "Vobiz no longer had it")
            except VobizUnavailable as exc:
                # Whether this one went through is unknown; the next attempt settles it (a 404 then
                # means it did). Stop rather than hammer a Vobiz that is down.
                batch.stopped_reason = f"Vobiz stopped answering: {exc}"
                settle(outcome, Status.FAILED, str(exc), batch)
                break
            except VobizError as exc:
                settle(outcome, Status.FAILED, str(exc), batch)
            else:
                tombstone(batch, outcome, Status.DELETED, "")
    except VobizError as exc:  # no client at all: the credentials are missing
        batch.stopped_reason = str(exc)
    finally:
        batch.finished_at = timezone.now()
        batch.save(update_fields=["finished_at", "stopped_reason"])


def settle(outcome, status, message, batch=None):
    outcome.status = status
    outcome.message = message
    outcome.save(update_fields=["status", "message"])
    if batch is not None:
        log(batch, AuditEvent.Action.DELETE_FAILED, outcome.recording, message)


@transaction.atomic
def tombstone(batch, outcome, status, message):
    Recording.objects.filter(pk=outcome.recording_id).update(
        deleted_at=timezone.now(), deleted_by=batch.requested_by, deletion_reason=batch.reason
    )
    outcome.status = status
    outcome.message = message
    outcome.save(update_fields=["status", "message"])
    log(batch, AuditEvent.Action.DELETE, outcome.recording, batch.reason)


def log(batch, action, recording, note):
    audit.record_for(batch.requested_by, batch.ip_address, batch.user_agent, action, recording, note=note)


def retry_rest(request, batch):
    """A new batch for what the last one did not delete (stopped, failed or never attempted)."""
    retry = Recording.objects.filter(pk__in=batch.outcomes.filter(status__in=RETRYABLE).values("recording_id"))
    return start_deletion(request, retry, batch.reason)


def summary(batch):
    """How many outcomes are in each status, every status named."""
    counts = dict(batch.outcomes.order_by().values_list("status").annotate(count=Count("id")))
    return [(Status(status).label, status, counts.get(status, 0)) for status in Status.values]
