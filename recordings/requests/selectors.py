"""What a data-subject request's pages read: the person's recordings and all that is kept about them."""

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, Exists, Max, Min, Q, QuerySet, Sum, Value, When

from recordings.auditing import deletion
from recordings.models import (
    AuditEvent,
    CallDetail,
    DeletionBatch,
    DeletionOutcome,
    LegalHold,
    MomentNote,
    Recording,
    RecordingQuerySet,
    ReviewItem,
    SubjectRequest,
    Transcript,
)
from recordings.requests.numbers import matching, stored_forms

RECORDINGS_PER_PAGE = 25  # as the recordings table shows by default
REQUESTS_PER_PAGE = 50


def candidates(subject_request: SubjectRequest) -> RecordingQuerySet:
    """Recordings the table's forgiving number search finds for the request's number (same national
    digits, any country code or none), and those that hold its keyed hash."""
    by_hash = Q(from_number=subject_request.number_hash) | Q(to_number=subject_request.number_hash)
    if subject_request.number:
        return Recording.objects.filter(matching(subject_request.number) | by_hash)
    return Recording.objects.filter(by_hash)


def the_persons(subject_request: SubjectRequest) -> Q:
    """Recordings with the person's very number (see stored_forms) or its keyed hash, as caller or callee."""
    by_hash = Q(from_number=subject_request.number_hash) | Q(to_number=subject_request.number_hash)
    if not subject_request.number:
        return by_hash
    forms = stored_forms(subject_request.number)
    return Q(from_digits_reversed__in=forms) | Q(to_digits_reversed__in=forms) | by_hash


def recordings_of(subject_request: SubjectRequest) -> RecordingQuerySet:
    """Every recording with the person as caller or callee, deleted ones too: by the number while the
    request keeps it, and by its keyed hash, which erased recordings hold in its place. A near match
    ("+1 984 501 2345" for "+91 98450 12345") is not the person's: never exported, deleted or erased."""
    return candidates(subject_request).filter(the_persons(subject_request))


def near_matches(subject_request: SubjectRequest) -> RecordingQuerySet:
    """The numbers the table's search would also find, shown apart: another person's, left alone."""
    near = candidates(subject_request).exclude(the_persons(subject_request))
    return near.defer("raw").order_by("-add_time", "-id")


@dataclass(frozen=True)
class ErasurePlan:
    """What approving the erasure deletes at Vobiz, in the bulk deletion's words, and a fingerprint of
    it: the approval names the fingerprint it saw, and is refused when the recordings changed since."""

    figures: deletion.Choice
    fingerprint: str


def erasure_plan(subject_request: SubjectRequest) -> ErasurePlan:
    recordings = recordings_of(subject_request)
    present = recordings.present().annotate(held=Exists(LegalHold.objects.covering_row()))
    to_delete = present.filter(held=False)
    figures = to_delete.aggregate(
        to_delete=Count("pk"),
        storage_amount=Sum("monthly_recording_storage_amount"),
        oldest=Min("add_time"),
        newest=Max("add_time"),
    )
    deleted_ids = list(to_delete.order_by("pk").values_list("pk", flat=True))
    held_ids = list(present.filter(held=True).order_by("pk").values_list("pk", flat=True))
    choice = deletion.Choice(held=len(held_ids), left_out=recordings.removed().count(), **figures)
    shown = f"delete {deleted_ids} held {held_ids}".encode()
    return ErasurePlan(figures=choice, fingerprint=f"{len(deleted_ids)}-{hashlib.sha256(shown).hexdigest()[:32]}")


def erasure_reason(subject_request: SubjectRequest) -> str:
    """The approved deletion's reason, which a retry of its rest keeps: what links both to the request."""
    return f"Erasure for data-subject request #{subject_request.pk}"


def erasure_batches(subject_request: SubjectRequest) -> list[DeletionBatch]:
    """The erasure's deletions at Vobiz, oldest first: the approved one, then each retry of its rest."""
    if subject_request.deletion_batch_id is None:
        return []
    return list(
        DeletionBatch.objects.filter(
            reason=erasure_reason(subject_request), pk__gte=subject_request.deletion_batch_id
        ).order_by("pk")
    )


@dataclass(frozen=True)
class Deletions:
    """Where the erasure's deletion at Vobiz stands."""

    batches: list[DeletionBatch]
    outcomes: dict[int, DeletionOutcome]  # each recording's outcome in the latest batch that tried it
    left: int  # approved, still at Vobiz and on no hold: failed, or not attempted when a batch stopped

    @property
    def latest(self) -> DeletionBatch | None:
        return self.batches[-1] if self.batches else None

    @property
    def running(self) -> bool:
        return any(batch.finished_at is None for batch in self.batches)


def erasure_deletions(subject_request: SubjectRequest) -> Deletions:
    batches = erasure_batches(subject_request)
    outcomes = {
        outcome.recording_id: outcome
        for outcome in DeletionOutcome.objects.filter(batch__in=batches).order_by("batch_id", "id")
    }
    unsettled = [pk for pk, outcome in outcomes.items() if outcome.status in deletion.RETRYABLE]
    left = Recording.objects.filter(pk__in=unsettled).present().count() if unsettled else 0
    return Deletions(batches=batches, outcomes=outcomes, left=left)


def earlier_requests(subject_request: SubjectRequest) -> QuerySet[SubjectRequest]:
    """Other requests for the same number, found by its keyed hash: the number need not be kept."""
    return (
        SubjectRequest.objects.filter(number_hash=subject_request.number_hash)
        .exclude(pk=subject_request.pk)
        .order_by("opened_at", "pk")
        .only("pk", "status", "opened_at")
    )


@dataclass
class RecordingFacts:
    """One of the person's recordings with what is kept about it."""

    recording: Recording
    transcript: Transcript | None = None
    call_detail: CallDetail | None = None
    notes: list[MomentNote] = field(default_factory=list)
    review_items: list[ReviewItem] = field(default_factory=list)
    listening: list[AuditEvent] = field(default_factory=list)


@dataclass
class RequestPage:
    count: int
    page: Page[Recording]
    rows: list[RecordingFacts]


def request_page(subject_request: SubjectRequest, *, page_number: str | int | None = 1) -> RequestPage:
    """A page of the person's recordings, newest first, each with its transcript, call record, notes,
    reviews and listening log: a fixed number of queries whatever the page's size."""
    recordings = recordings_of(subject_request).defer("raw").order_by("-add_time", "-id")
    page = Paginator(recordings, RECORDINGS_PER_PAGE).get_page(page_number)
    found = list(page.object_list)
    rows = {recording.pk: RecordingFacts(recording) for recording in found}
    by_recording_id = {recording.recording_id: rows[recording.pk] for recording in found}
    for transcript in Transcript.objects.filter(recording_id__in=list(by_recording_id)):
        by_recording_id[transcript.recording_id].transcript = transcript
    by_call: dict[str, list[RecordingFacts]] = defaultdict(list)
    for facts in rows.values():
        by_call[facts.recording.call_uuid].append(facts)
    for record in CallDetail.objects.filter(call_uuid__in=[uuid for uuid in by_call if uuid]):
        for facts in by_call[record.call_uuid]:
            facts.call_detail = record
    for note in MomentNote.objects.filter(recording_id__in=list(rows)).order_by("recording_id", "at_ms", "id"):
        rows[note.recording_id].notes.append(note)
    for item in ReviewItem.objects.filter(recording_id__in=list(rows)).select_related("sample").order_by("id"):
        rows[item.recording_id].review_items.append(item)
    listening = AuditEvent.objects.filter(recording_id__in=list(rows), action__in=AuditEvent.LISTENING)
    for event in listening.order_by("-at", "-id"):
        if event.recording_id is not None:
            rows[event.recording_id].listening.append(event)
    return RequestPage(count=page.paginator.count, page=page, rows=list(rows.values()))


def requests_page(*, page_number: str | int | None = 1) -> Page[SubjectRequest]:
    """A page of the requests, overdue ones first (then newest first): none hides behind the others."""
    requests = SubjectRequest.objects.defer("number", "kept", "counts").order_by(
        Case(When(SubjectRequest.objects.overdue_q(), then=Value(0)), default=Value(1)), "-opened_at", "-id"
    )
    return Paginator(requests, REQUESTS_PER_PAGE).get_page(page_number)


def overdue_count() -> int:
    return SubjectRequest.objects.overdue().count()
