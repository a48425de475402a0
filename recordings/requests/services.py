"""What auditors do with a data-subject request: open it, approve and carry out its erasure, close it.

Each step checks the request's state under a lock on its row, so a step posted twice, out of turn, or
by the wrong auditor is refused (RequestRefused) and changes nothing; each writes an audit event.
The export, the other step, streams from recordings/requests/export.py.
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from recordings.audit_trail import Action, Actor, record_for, redact_events
from recordings.auditing import deletion
from recordings.browsing.freshness import data_changed
from recordings.models import (
    AuditEvent,
    CallDetail,
    DeletionBatch,
    DeletionOutcome,
    LegalHold,
    MomentNote,
    Recording,
    RetentionRule,
    RetentionRun,
    ReviewItem,
    ReviewSample,
    SubjectRequest,
    Transcript,
)
from recordings.requests.numbers import Redactor, keyed_hash, parse_number
from recordings.requests.selectors import Deletions, erasure_deletions, erasure_plan, erasure_reason, recordings_of

AnyModel = TypeVar("AnyModel", bound=Model)
Status = SubjectRequest.Status
Kind = SubjectRequest.Kind


class RequestRefused(Exception):
    """The step cannot be taken on this request now; the message says why, for the auditor."""

    def __init__(self, message: str, *, forbidden: bool = False):
        super().__init__(message)
        self.forbidden = forbidden  # refused for who asks, not for the request's state


def locked(request_id: int) -> SubjectRequest:
    found = SubjectRequest.objects.select_for_update().filter(pk=request_id).first()
    if found is None:
        raise RequestRefused("That request does not exist.")
    return found


def log(actor: Actor, action: str, subject_request: SubjectRequest, what: str) -> None:
    record_for(actor, action, note=f"data-subject request #{subject_request.pk}: {what}")


def open_request(
    *, actor: Actor, number: str, kind: str, reference: str, due_on: date, time_zone: str
) -> SubjectRequest:
    """Open a request for the number however written (NotANumber when it is none)."""
    e164 = parse_number(number)
    opened = SubjectRequest.objects.create(
        kind=kind,
        reference=reference,
        number=e164,
        number_hash=keyed_hash(e164),
        time_zone=time_zone,
        due_on=due_on,
        opened_by=actor.user,
        opened_by_name=actor.username,
        opened_at=timezone.now(),
    )
    log(actor, Action.DSR_OPEN, opened, f"{opened.get_kind_display().lower()}, due {due_on.isoformat()}")
    return opened


def exportable(subject_request: SubjectRequest) -> None:
    """RequestRefused unless the request's copy may be made now."""
    if not subject_request.wants_access:
        raise RequestRefused("This request asks for erasure only: there is no copy to make.")
    if subject_request.status not in (Status.OPEN, Status.EXPORTED) or not subject_request.number:
        raise RequestRefused(f"This request is {subject_request.get_status_display().lower()}: no copy can be made.")


def approvable(subject_request: SubjectRequest) -> None:
    """RequestRefused unless the request's state lets its erasure be approved (who approves aside)."""
    if not subject_request.wants_erasure:
        raise RequestRefused("This request asks for a copy only: there is nothing to erase.")
    allowed = (Status.EXPORTED,) if subject_request.kind == Kind.BOTH else (Status.OPEN, Status.EXPORTED)
    if subject_request.status not in allowed:
        if subject_request.status == Status.OPEN:
            raise RequestRefused("Export the person's copy first: the erasure would leave nothing to hand over.")
        raise RequestRefused(f"This request is {subject_request.get_status_display().lower()}: it cannot be approved.")


def retryable(subject_request: SubjectRequest, deletions: Deletions) -> None:
    """RequestRefused unless the erasure's deletion stopped with recordings Vobiz did not delete."""
    if subject_request.status != Status.ERASURE_APPROVED:
        raise RequestRefused(
            f"This request is {subject_request.get_status_display().lower()}: there is no deletion to retry."
        )
    if deletions.running:
        raise RequestRefused("Vobiz is still deleting the recordings: retry once the deletion has stopped.")
    if not deletions.left:
        raise RequestRefused("Vobiz has deleted every recording the erasure approved: there is nothing to retry.")


def erasable(subject_request: SubjectRequest, deletions: Deletions) -> None:
    """RequestRefused unless Vobiz has deleted every approved recording it could (holds aside)."""
    if subject_request.status != Status.ERASURE_APPROVED:
        raise RequestRefused(
            f"This request is {subject_request.get_status_display().lower()}: there is no erasure to carry out."
        )
    if deletions.running:
        raise RequestRefused("Vobiz is still deleting the recordings: erase once the deletion has finished.")
    if deletions.left:
        raise RequestRefused(
            f"Vobiz has not deleted {deletions.left} of the recordings (failed, or not attempted when the "
            "deletion stopped): retry the rest, and erase once Vobiz has deleted them."
        )


def closable(subject_request: SubjectRequest) -> None:
    if subject_request.status == Status.CLOSED:
        raise RequestRefused("This request is closed already.")
    if subject_request.status == Status.ERASURE_APPROVED:
        raise RequestRefused("The erasure is under way: erase, then close.")


@dataclass(frozen=True)
class Steps:
    """Which steps the request's state allows now: the one place its lifecycle is decided, for the
    page's buttons as for the services that take them."""

    can_export: bool
    can_approve: bool
    can_retry: bool
    can_erase: bool
    can_close: bool


def allowed(check: Callable[[], None]) -> bool:
    try:
        check()
    except RequestRefused:
        return False
    return True


def steps(subject_request: SubjectRequest, deletions: Deletions) -> Steps:
    return Steps(
        can_export=allowed(lambda: exportable(subject_request)),
        can_approve=allowed(lambda: approvable(subject_request)),
        can_retry=allowed(lambda: retryable(subject_request, deletions)),
        can_erase=allowed(lambda: erasable(subject_request, deletions)),
        can_close=allowed(lambda: closable(subject_request)),
    )


@transaction.atomic
def record_export(*, actor: Actor, request_id: int, sha256: str, files: int, size: int) -> SubjectRequest:
    """Keep what an export streamed (the ZIP's SHA-256, its files and bytes) on the request and in the log;
    only in the log when the request was erased or closed while the ZIP streamed."""
    exported = locked(request_id)
    made = f"ZIP of {files} files, {size} bytes, SHA-256 {sha256}"
    if exported.status in (Status.ERASED, Status.CLOSED):  # while it streamed
        late = f"{made}, finished once the request was {exported.get_status_display().lower()}: not its copy"
        log(actor, Action.DSR_EXPORT, exported, late)
        return exported
    if exported.status == Status.OPEN:
        exported.status = Status.EXPORTED
    exported.exported_by_name = actor.username
    exported.exported_at = timezone.now()
    exported.export_sha256 = sha256
    exported.export_files = files
    exported.export_bytes = size
    exported.save()
    log(actor, Action.DSR_EXPORT, exported, made)
    return exported


def four_eyes(subject_request: SubjectRequest, actor: Actor) -> User:
    """The approver, an auditor who did not open the request; RequestRefused (forbidden) otherwise."""
    user = actor.user
    if user is None or user.pk == subject_request.opened_by_id or actor.username == subject_request.opened_by_name:
        raise RequestRefused(
            "A second auditor approves the erasure, not the one who opened the request.", forbidden=True
        )
    return user


@transaction.atomic
def approve_erasure(*, actor: Actor, request_id: int, fingerprint: str) -> SubjectRequest:
    """A second auditor approves the erasure they were shown (`fingerprint`, from erasure_plan): a
    confirmed deletion batch of the person's recordings still at Vobiz (those on hold settled as kept),
    for a worker to carry out (the caller queues it). Refused when the recordings changed since."""
    approved = locked(request_id)
    approvable(approved)
    approver = four_eyes(approved, actor)
    if erasure_plan(approved).fingerprint != fingerprint:
        raise RequestRefused(
            "The person's recordings changed since the page you approved (one arrived, was deleted or was put "
            "on hold): look at the figures again, and approve what they say now."
        )
    batch: DeletionBatch | None = None
    try:
        batch = deletion.prepare_deletion(actor=actor, recordings=recordings_of(approved))
    except deletion.NothingToDelete as refused:
        if refused.choice.too_many:
            raise RequestRefused(refused.choice.refusal) from None
    if batch is not None:
        batch = deletion.confirm_deletion(user=approver, batch_id=batch.pk, reason=erasure_reason(approved))
    approved.status = Status.ERASURE_APPROVED
    approved.approved_by = actor.user
    approved.approved_by_name = actor.username
    approved.approved_at = timezone.now()
    approved.deletion_batch = batch
    approved.save()
    deleting = (
        f"deletion {batch.pk} deletes {batch.outcomes.filter(status=deletion.Status.PENDING).count()}"
        if batch
        else "nothing to delete at Vobiz"
    )
    log(actor, Action.DSR_APPROVE, approved, deleting)
    return approved


# Why a recording of the person is still at Vobiz when the number is erased here, by its outcome.
NOT_DELETED: dict[str, str] = {
    deletion.Status.PENDING: "not deleted at Vobiz: its deletion was not attempted",
    deletion.Status.ATTEMPTING: "not known to be deleted at Vobiz: its deletion was sent, no answer kept",
    deletion.Status.FAILED: "not deleted at Vobiz: its deletion failed",
}


def is_held(recording: Recording) -> bool:
    return LegalHold.objects.covering(recording).exists()


def kept_reason(recording: Recording, outcomes: dict[int, DeletionOutcome], held_calls: Collection[str] = ()) -> str:
    """Why the recording is kept, for the proof: its hold's reasons (and, for a call on hold, that its
    record, holds and log notes are kept as they are), or what its deletion came to."""
    outcome = outcomes.get(recording.pk)
    holds = list(LegalHold.objects.covering(recording).values_list("reason", flat=True))
    if holds:
        evidence = (
            "; its call record, holds and log notes are kept as they are" if recording.call_uuid in held_calls else ""
        )
        return f"on legal hold ({'; '.join(holds)}){evidence}"
    if outcome is not None and outcome.status == deletion.Status.HELD:
        return "on legal hold when Vobiz deleted the others (lifted since)"
    if outcome is not None and outcome.status in NOT_DELETED:
        message = f" ({outcome.message})" if outcome.message else ""
        return NOT_DELETED[outcome.status] + message
    return "not deleted at Vobiz: it arrived after the erasure was approved, so it was not approved"


@transaction.atomic
def retry_erasure_deletion(*, actor: Actor, request_id: int) -> DeletionBatch:
    """A deletion of what the erasure's last deletion left at Vobiz (failed, or never attempted when
    Vobiz stopped answering), under the same approval: the same recordings, fewer. The caller queues it."""
    retried = locked(request_id)
    deletions = erasure_deletions(retried)
    retryable(retried, deletions)
    latest = deletions.batches[-1]  # there is one: it left recordings at Vobiz
    try:
        batch = deletion.retry_rest(actor=actor, batch=latest)
    except deletion.DeletionRefused as exc:
        raise RequestRefused(str(exc)) from None
    log(actor, Action.DSR_APPROVE, retried, f"deletion {batch.pk} retries the rest of deletion {latest.pk}")
    return batch


@transaction.atomic
def erase(*, actor: Actor, request_id: int) -> SubjectRequest:
    """Once Vobiz has deleted every approved recording not on hold (erasable): the person's number,
    here, in the recordings deleted or gone at Vobiz (their tombstones), their raw objects, call
    records, notes and reviews, the holds, deletions, samples, retention rules and runs and other
    requests that mention it, and the audit log's texts, becomes its keyed hash; their transcripts
    and notes are deleted. Recordings on hold are kept whole, with their calls' records, holds and
    log notes, and reported; so is one that arrived after the approval. The request keeps the hash
    and the counts, not the number."""
    erased = locked(request_id)
    found = list(recordings_of(erased).select_for_update().order_by("pk"))
    deletions = erasure_deletions(erased)
    erasable(erased, deletions)
    outcomes = deletions.outcomes
    gone = [recording for recording in found if recording.deleted_at or recording.gone_at]
    kept = [recording for recording in found if not (recording.deleted_at or recording.gone_at)]
    # A call with a recording on hold is evidence: its call record, holds and log notes stay as they are.
    held_calls = {recording.call_uuid for recording in kept if recording.call_uuid and is_held(recording)}
    redacted_events = 0
    if erased.number:  # else an erasure of the same number, by another request, took it out already
        redactor = Redactor.of(erased.number)
        redacted_events = erase_number(actor, erased, redactor, gone=gone, held_calls=held_calls)
        erased.reference = redactor.text(erased.reference)
    recording_ids = [recording.recording_id for recording in gone]
    transcripts, _ = Transcript.objects.filter(recording_id__in=recording_ids).delete()
    notes, _ = MomentNote.objects.filter(recording__in=gone).delete()
    ReviewItem.objects.filter(recording__in=gone).update(note="")
    deleted = sum(1 for outcome in outcomes.values() if outcome.status == deletion.Status.DELETED)
    erased.counts = {
        "found": len(found),
        "deleted_at_vobiz": deleted,
        "redacted": len(gone),
        "kept": len(kept),
        "transcripts_deleted": transcripts,
        "notes_deleted": notes,
        "events_redacted": redacted_events,
        "held_calls": len(held_calls),
    }
    erased.kept = [
        {"recording_id": recording.recording_id, "reason": kept_reason(recording, outcomes, held_calls)}
        for recording in kept
    ]
    erased.number = ""
    erased.status = Status.ERASED
    erased.erased_by_name = actor.username
    erased.erased_at = timezone.now()
    erased.save()
    data_changed()
    counts = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in erased.counts.items())
    log(actor, Action.DSR_ERASE, erased, counts)
    return erased


def erase_number(
    actor: Actor, erased: SubjectRequest, redactor: Redactor, *, gone: list[Recording], held_calls: set[str]
) -> int:
    """The number replaced by its hash wherever it is kept (see erase); how many audit events changed."""
    for recording in gone:
        redact_recording(recording, redactor)
    Recording.objects.bulk_update(
        gone,
        [
            "from_number",
            "to_number",
            "from_digits_reversed",
            "to_digits_reversed",
            "raw",
            "conference_name",
            "review_note",
            "deletion_reason",
        ],
        batch_size=500,
    )
    redact_texts(redactor, gone, held_calls=held_calls)
    clear_other_requests(actor, erased, redactor)
    # Events about the recordings, and any other whose note holds the number's digits, however
    # separated (a database regex, read on either database): the redaction keeps only those it changes.
    events = (
        AuditEvent.objects.filter(Q(recording__in=gone) | Q(note__regex=redactor.loose_pattern))
        .exclude(action=Action.REDACT)
        .exclude(Q(call_uuid__in=held_calls) | Q(recording__call_uuid__in=held_calls))
    )
    return redact_events(
        event_ids=list(events.values_list("pk", flat=True)),
        redact=redactor.text,
        actor=actor,
        reason=f"erasure of data-subject request #{erased.pk}",
    )


def clear_other_requests(actor: Actor, erased: SubjectRequest, redactor: Redactor) -> None:
    """Other requests for the same number keep its hash, not the number: a later step of theirs
    finds the person's recordings by the hash they now hold."""
    others = SubjectRequest.objects.select_for_update().filter(number_hash=erased.number_hash).exclude(pk=erased.pk)
    for other in others.order_by("pk"):
        reference = redactor.text(other.reference)
        if other.number or reference != other.reference:
            cleared = bool(other.number)
            other.number, other.reference = "", reference
            other.save(update_fields=["number", "reference"])
            if cleared:
                log(actor, Action.DSR_ERASE, other, f"number cleared by the erasure of request #{erased.pk}")


def redact_recording(recording: Recording, redactor: Redactor) -> None:
    """The number out of a recording's row: its columns, digits, raw object and texts."""
    for side in ("from", "to"):
        if redactor.is_the_number(getattr(recording, f"{side}_number")):
            setattr(recording, f"{side}_number", redactor.replacement)
            setattr(recording, f"{side}_digits_reversed", redactor.replacement)
    recording.raw = redactor.json(recording.raw)
    recording.conference_name = redactor.text(recording.conference_name)
    recording.review_note = ""
    recording.deletion_reason = redactor.text(recording.deletion_reason)


def redact_texts(redactor: Redactor, gone: list[Recording], *, held_calls: set[str]) -> None:
    """The number out of what else may mention it: the erased calls' records, holds, deletions (their
    table query too), samples, and retention rules and runs (built from a search of the table). The
    record and holds of a call on hold (`held_calls`) are evidence, kept as they are."""
    calls = {recording.call_uuid for recording in gone if recording.call_uuid} - held_calls
    mentions = redactor.loose_pattern  # as for the audit log: texts without the digits are not read
    redact_rows(redactor, CallDetail.objects.filter(call_uuid__in=calls), ["data"])
    holds = LegalHold.objects.filter(Q(reason__regex=mentions) | Q(lift_reason__regex=mentions)).exclude(
        Q(call_uuid__in=held_calls) | Q(recording__call_uuid__in=held_calls)
    )
    redact_rows(redactor, holds, ["reason", "lift_reason"])
    batches = DeletionBatch.objects.filter(Q(reason__regex=mentions) | Q(filter_query__regex=mentions))
    redact_rows(redactor, batches, ["reason", "filter_query"])
    redact_rows(redactor, DeletionOutcome.objects.filter(message__regex=mentions), ["message"])
    # Few rows, and JSON a regex cannot read alike on both databases: each is read.
    redact_rows(redactor, ReviewSample.objects.all(), ["name", "criteria"])
    redact_rows(redactor, RetentionRule.objects.all(), ["name", "filter_query", "effective"])
    redact_rows(redactor, RetentionRun.objects.all(), ["definition"])


def redact_rows(redactor: Redactor, rows: QuerySet[AnyModel], fields: list[str]) -> None:
    changed = []
    for row in rows.only("pk", *fields).iterator(chunk_size=1000):
        before = [getattr(row, name) for name in fields]
        after = [redactor.json(value) for value in before]
        if after != before:
            for name, value in zip(fields, after, strict=True):
                setattr(row, name, value)
            changed.append(row)
    rows.bulk_update(changed, fields, batch_size=500)


@transaction.atomic
def close(*, actor: Actor, request_id: int) -> SubjectRequest:
    """Close the request: answered (copied, or erased), or withdrawn before an erasure began. The
    number goes with it."""
    closed = locked(request_id)
    closable(closed)
    closed.status = Status.CLOSED
    closed.number = ""
    closed.closed_by_name = actor.username
    closed.closed_at = timezone.now()
    closed.save()
    log(actor, Action.DSR_CLOSE, closed, "closed")
    return closed
