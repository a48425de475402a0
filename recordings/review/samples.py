"""The review queue: samples of recordings drawn at random (reproducibly), and their reviews."""

import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from recordings.audit_trail import Actor, record_for
from recordings.browsing.search import number_digits_query
from recordings.models import AuditEvent, Recording, ReviewItem, ReviewSample, ReviewState
from recordings.review.marks import set_review
from recordings.review.notes import notes_by_recording, notes_in_words

if TYPE_CHECKING:  # django-stubs' helper is for type checking only, not installed to run
    from django_stubs_ext import WithAnnotations

# A sample is drawn in memory: these bound the work and what one reviewer can get through.
MAX_POPULATION = 200_000
MAX_SAMPLE = 5_000


class SampleRefused(Exception):
    """The criteria cannot make a sample; the message says why, for the page."""


@dataclass(frozen=True)
class Candidate:
    pk: int
    recording_id: str
    caller: str  # the number's national digits, so +91…, 91… and 0… are one caller


class Progress(TypedDict):
    """How far a sample's review stands, as samples_with_progress() counts it."""

    total: int
    reviewed: int
    flagged: int


def rank(seed: int, recording_id: str) -> bytes:
    """A recording's place in the seed's random order: the same whatever order rows come in."""
    return hashlib.sha256(f"{seed}:{recording_id}".encode()).digest()


def draw(candidates: list[Candidate], *, percent: Decimal, per_caller: int, seed: int) -> list[Candidate]:
    """`percent` of the candidates, and at least `per_caller` of each caller's (or all they have),
    in the seed's random order: the order they are reviewed in."""
    ranked = sorted(candidates, key=lambda candidate: rank(seed, candidate.recording_id))
    target = math.ceil(len(ranked) * percent / 100)
    taken: Counter[str] = Counter()
    chosen: set[int] = set()
    for candidate in ranked:
        if taken[candidate.caller] < per_caller:
            taken[candidate.caller] += 1
            chosen.add(candidate.pk)
    for candidate in ranked:
        if len(chosen) >= target:
            break
        chosen.add(candidate.pk)
    return [candidate for candidate in ranked if candidate.pk in chosen]


def candidates(recordings: QuerySet[Recording]) -> list[Candidate]:
    rows = recordings.order_by().values_list("pk", "recording_id", "from_number")[: MAX_POPULATION + 1]
    found = [Candidate(pk, recording_id, number_digits_query(number)) for pk, recording_id, number in rows]
    if len(found) > MAX_POPULATION:
        raise SampleRefused(
            f"More than {MAX_POPULATION:,} recordings match: choose a shorter period or one type of recording."
        )
    return found


@dataclass(frozen=True)
class SampleSize:
    """How many recordings a rule would draw, before it draws: the same for any seed."""

    population: int  # the recordings the criteria select
    share: int  # the percentage of them
    drawn: int  # with each caller's minimum: at least `share`
    per_caller: int

    @property
    def in_words(self) -> str:
        if not self.drawn:
            return "This rule draws nothing: no recording matches these criteria."
        text = f"This rule draws {self.drawn:,} of {self.population:,} recordings"
        if self.drawn > MAX_SAMPLE:
            text = f"This rule would draw {self.drawn:,} of {self.population:,} recordings"
        if self.drawn > self.share:
            added = self.drawn - self.share
            text += f": the share is {self.share:,}, and at least {self.per_caller} per caller adds {added:,}"
        if self.drawn > MAX_SAMPLE:
            return (
                f"{text}. That is more than the {MAX_SAMPLE:,} one sample can, so drawing it would be refused: "
                "take a smaller share, fewer per caller or a shorter period."
            )
        return f"{text}."


def sample_size(*, recordings: QuerySet[Recording], percent: Decimal, per_caller: int) -> SampleSize:
    """What create_sample() would draw of `recordings`, without drawing: `draw` takes each caller's
    minimum, then tops up to the share, so it draws the larger of the two whatever the seed."""
    population = candidates(recordings)
    share = math.ceil(len(population) * percent / 100)
    calls = Counter(candidate.caller for candidate in population)
    minimums = sum(min(per_caller, count) for count in calls.values())
    return SampleSize(population=len(population), share=share, drawn=max(share, minimums), per_caller=per_caller)


@transaction.atomic
def create_sample(
    *,
    actor: Actor,
    name: str,
    criteria: dict[str, str],
    recordings: QuerySet[Recording],
    percent: Decimal,
    per_caller: int,
    seed: int,
) -> ReviewSample:
    """Draw a sample of `recordings` (the recordings `criteria` select) and keep it for review."""
    population = candidates(recordings)
    chosen = draw(population, percent=percent, per_caller=per_caller, seed=seed)
    if not chosen:
        raise SampleRefused("No recording matches these criteria: there is nothing to sample.")
    if len(chosen) > MAX_SAMPLE:
        raise SampleRefused(
            f"That sample would hold {len(chosen):,} recordings, more than the {MAX_SAMPLE:,} one sample can: "
            "take a smaller share, fewer per caller or a shorter period."
        )
    sample = ReviewSample.objects.create(
        name=name,
        criteria=criteria,
        percent=percent,
        per_caller=per_caller,
        seed=seed,
        population=len(population),
        created_by=actor.user,
        username=actor.username,
        created_at=timezone.now(),
    )
    ReviewItem.objects.bulk_create(
        ReviewItem(sample=sample, recording_id=candidate.pk, position=position)
        for position, candidate in enumerate(chosen, start=1)
    )
    record_for(
        actor, AuditEvent.Action.SAMPLE, note=f"{name}: {len(chosen)} of {len(population)} recordings (seed {seed})"
    )
    return sample


def criteria_query(criteria: dict[str, str]) -> QueryDict:
    """A sample's criteria as the recordings table's filter parameters."""
    query = QueryDict(mutable=True)
    query.update({key: value for key, value in criteria.items() if value})
    return query


@transaction.atomic
def review_item(*, actor: Actor, item: ReviewItem, outcome: str, note: str) -> None:
    """Record what the reviewer found; the recording's own review state follows, and is logged."""
    item.outcome = outcome
    item.note = note
    item.reviewed_by = actor.user
    item.reviewed_at = timezone.now()
    item.save(update_fields=["outcome", "note", "reviewed_by", "reviewed_at"])
    set_review(actor=actor, recording=item.recording, state=outcome, note=note)


def export_sample(*, actor: Actor, sample: "WithAnnotations[ReviewSample, Progress]") -> QuerySet[ReviewItem]:
    """The sample's items for its CSV, each with its reviewer's name; the log keeps who exported it
    and how far its review stood. `sample` comes from samples_with_progress()."""
    record_for(actor, AuditEvent.Action.EXPORT, note=f"{sample.name}: {sample.reviewed} of {sample.total} reviewed")
    return sample.items.annotate(reviewer=F("reviewed_by__username")).order_by("position")


def export_rows(items: QuerySet[ReviewItem], columns: list[str]) -> list[tuple[object, ...]]:
    """The items' `columns`, then each recording's notes at moments in words (a sample holds at
    most MAX_SAMPLE items: all at once, in two queries)."""
    rows = list(items.values_list(*columns, "recording_id"))
    notes = notes_by_recording(row[-1] for row in rows)
    return [(*row[:-1], notes_in_words(notes.get(row[-1], []))) for row in rows]


def samples_with_progress() -> "QuerySet[WithAnnotations[ReviewSample, Progress]]":
    return ReviewSample.objects.annotate(
        total=Count("items"),
        reviewed=Count("items", filter=~Q(items__outcome="")),
        flagged=Count("items", filter=Q(items__outcome=ReviewState.FLAGGED)),
    )


def next_to_review(sample: ReviewSample, after: int = 0) -> ReviewItem | None:
    """The first item not reviewed yet after position `after`, else the first before it."""
    waiting = sample.items.filter(outcome="").order_by("position")
    return waiting.filter(position__gt=after).first() or waiting.first()
