"""The recordings a table lists, and the marks its rows show (on hold, transcript masked)."""

from django.db.models import Exists, OuterRef, QuerySet, Subquery

from recordings.models import LegalHold, Recording, RecordingQuerySet, Transcript


def recordings() -> QuerySet[Recording]:
    return Recording.objects.all()


def with_hold_marks(queryset: QuerySet[Recording]) -> QuerySet[Recording]:
    """Each row's `on_hold`: whether an active hold covers it or its call (within the same query)."""
    return queryset.annotate(on_hold=Exists(LegalHold.objects.covering_row()))


def with_masked_marks(queryset: QuerySet[Recording]) -> QuerySet[Recording]:
    """Each row's `transcript_masked`: whether its transcript had payment or identity data masked
    (None without a transcript), within the same query.

    A value read by the transcript's unique key, once per row shown: PostgreSQL would answer an
    EXISTS by hashing every masked transcript first, a cost that grows with the table."""
    masked = Transcript.objects.filter(recording_id=OuterRef("recording_id")).values("masked")[:1]
    return queryset.annotate(transcript_masked=Subquery(masked))


def recordings_of_call(*, call_uuid: str) -> QuerySet[Recording]:
    return Recording.objects.filter(call_uuid=call_uuid).order_by("add_time", "id")


def recordings_by_id(*, recording_ids: list[str]) -> RecordingQuerySet:
    return Recording.objects.filter(recording_id__in=recording_ids)
