"""What a retention rule's definition matches, read without changing anything: the recordings it
would delete or keep today, and a dry run in the words of the bulk deletion's confirmation."""

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import reduce
from hashlib import md5
from operator import or_
from typing import Any, cast

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, Sum, Window
from django.db.models.functions import RowNumber
from django.http import QueryDict
from django.utils import timezone

from recordings.browsing.filters import OLDEST_AGE_DAYS, RecordingFilter, older_than_bound
from recordings.browsing.freshness import data_version
from recordings.browsing.tables import TableOptionsForm
from recordings.models import LegalHold, Recording, RecordingQuerySet, RetentionRule
from recordings.time_zones import start_of_local_day

Action = RetentionRule.Action
# The search box and the words said mean different recordings from one day to the next (a search
# falls back to conference names; transcripts arrive after their recording): a rule names fields.
UNSTABLE_FILTERS = {
    "q": "Search can't be part of a rule: its meaning depends on the data. Use From, To or Call id.",
    "transcript": "Words said can't be part of a rule: transcripts arrive after their recording.",
}
TABLE_OPTIONS = set(TableOptionsForm.base_fields) | {"page", "_export"}


class InvalidRuleQuery(ValueError):
    """The query is no view of the table a rule can stand on; the message says why."""


@dataclass(frozen=True)
class Definition:
    """What a rule does: delete recordings older than `age_days`, or keep them that long, among those
    the table's view `filter_query` shows; or nothing (retired)."""

    action: str
    filter_query: str
    age_days: int

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "filter_query": self.filter_query, "age_days": self.age_days}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Definition":
        return cls(action=str(data["action"]), filter_query=str(data["filter_query"]), age_days=int(data["age_days"]))

    def filterset(self) -> RecordingFilter:
        return RecordingFilter(QueryDict(self.filter_query), queryset=Recording.objects.all(), auditor=True)


def current(rule: RetentionRule) -> Definition:
    return Definition(action=rule.action, filter_query=rule.filter_query, age_days=rule.age_days)


def effective(rule: RetentionRule) -> Definition | None:
    """The definition that applies: None until the rule was first approved or left unopposed."""
    return Definition.from_json(rule.effective) if rule.effective else None


def clean_query(query: str) -> str:
    """The table's query string as a rule keeps it: filters only (no sort, page or rows per page),
    none empty, every name one the form has, every value valid. InvalidRuleQuery otherwise: a typo
    that silently dropped a filter would widen the rule to more recordings."""
    data = QueryDict(query.strip().lstrip("?"))
    kept = QueryDict(mutable=True)
    filterset = RecordingFilter(data, queryset=Recording.objects.none(), auditor=True)
    for name in data:
        values = [value for value in data.getlist(name) if value.strip()]
        if name in TABLE_OPTIONS or not values:
            continue
        if name in UNSTABLE_FILTERS:
            raise InvalidRuleQuery(UNSTABLE_FILTERS[name])
        if name not in filterset.filters:
            raise InvalidRuleQuery(f"The table has no filter named “{name}”.")
        kept.setlist(name, values[-1:])  # a field reads the last of its values
    filterset = RecordingFilter(kept, queryset=Recording.objects.none(), auditor=True)
    if not filterset.form.is_valid():
        errors = " ".join(str(error) for errors in filterset.form.errors.values() for error in errors)
        raise InvalidRuleQuery(f"The filters are not valid: {errors}")
    return kept.urlencode()


def age_bound(age_days: int) -> datetime:
    """Recordings added before this are older than `age_days`: whole days in the zone in force
    (the dashboard's, TIME_ZONE, for runs and dry runs alike)."""
    return start_of_local_day(older_than_bound(min(age_days, OLDEST_AGE_DAYS)))


def matching(definition: Definition) -> RecordingQuerySet:
    """The recordings at Vobiz the definition's view shows (any age); none if its stored query no
    longer makes a valid view, so a rule never widens when the form changes."""
    filterset = definition.filterset()
    if not filterset.is_valid():
        return Recording.objects.none()
    return cast(RecordingQuerySet, filterset.qs).present()


@dataclass(frozen=True)
class Keeping:
    """What keeps recordings today: the legal holds (`held`, read once), and for each keep rule the
    recordings its view shows younger than its age. A keep rule waiting for approval keeps by both
    its waiting and its approved definition."""

    held: Q
    kept: list[RecordingQuerySet]

    def among(self, recordings: RecordingQuerySet) -> RecordingQuerySet:
        """Those of `recordings` some keep rule keeps, in one query whose conditions the database
        can serve from any rule's index (a narrow keep rule's, say) rather than test row by row."""
        return reduce(or_, (recordings & kept for kept in self.kept), Recording.objects.none())

    def left_of(self, recordings: RecordingQuerySet) -> RecordingQuerySet:
        """Those of `recordings` no keep rule keeps: each row read is looked up in the keep rule by
        its primary key. Excluding "pk in (the keep rule's)" read every recording the keep rule
        keeps, on every query (19,996 of ten million, 63-66 ms, for flagged calls), however few
        rows the query reads."""
        for kept in self.kept:
            recordings = recordings.exclude(Exists(kept.filter(pk=OuterRef("pk"))))
        return recordings


class BrokenKeepRule(Exception):
    """A keep rule's view is no longer valid (the form changed): nothing is deleted until it is
    fixed, since the recordings it kept would otherwise go to the delete rules."""


def keeping() -> Keeping:
    kept = []
    for rule in RetentionRule.objects.exclude(action=Action.RETIRED, effective__isnull=True):
        for definition in {current(rule), effective(rule)}:
            if definition is None or definition.action != Action.KEEP:
                continue
            if not definition.filterset().is_valid():
                raise BrokenKeepRule(f"Keep rule #{rule.pk} “{rule.name}” no longer names a valid view: fix it.")
            kept.append(matching(definition).filter(add_time__gte=age_bound(definition.age_days)))
    return Keeping(held=held_recordings(), kept=kept)


def due(definition: Definition) -> RecordingQuerySet:
    """What deleting by `definition` may touch today: shown by its view, at Vobiz, old enough."""
    return matching(definition).filter(add_time__lt=age_bound(definition.age_days))


@dataclass(frozen=True)
class Spared:
    """Of the recordings due under a delete rule, how many a legal hold keeps, and how many, on no
    hold, a keep rule keeps: each counted up to limit + 1, which means "more than limit"."""

    held: int
    kept: int


@dataclass(frozen=True)
class DryRun:
    """What running a delete rule now would do, as a bulk deletion's confirmation states it. At most
    `limit` recordings are deleted a day, so the figures stop there: `more` says more are due, and
    storage, oldest and newest are those of the `limit` oldest, which the next run deletes. Counting
    further would read most of the table on every view of the page."""

    to_delete: int
    more: bool
    storage_amount: Decimal | None
    oldest: datetime | None
    newest: datetime | None
    spared: Spared | None = None  # None: not counted yet, asked after the page (`spared_by`)
    # The key of these figures (`figures_key`), for which the page asks what they spare; None when
    # they are not kept, and what they spare came with them.
    key: str | None = None


DRY_RUN_SECONDS = 300


def dry_run(definition: Definition, *, limit: int) -> DryRun:
    """BrokenKeepRule when a keep rule's view is no longer valid. Its days are the dashboard's
    (TIME_ZONE), as the scheduled run counts them, whoever looks. Kept until the data changes, as
    the table's counts are. What it spares comes with it only when counted already: reading what
    the keep rules keep took as long as the rest (65-82 ms at ten million), so the page asks for it
    after it has answered (`spared_by`), as the table asks for its exact count."""
    with timezone.override(settings.TIME_ZONE):
        keep = keeping()
        key = figures_key(definition, keep=keep, limit=limit)
        if key is None:
            return replace(
                figures_of(definition, keep=keep, limit=limit), spared=spared_of(definition, keep=keep, limit=limit)
            )
        cached = cache.get_many([f"dry-run:{key}", f"dry-run:{key}:spared"])
        figures = cached.get(f"dry-run:{key}")
        if figures is None:
            figures = figures_of(definition, keep=keep, limit=limit)
            cache.set(f"dry-run:{key}", figures, DRY_RUN_SECONDS)
        return replace(figures, spared=cached.get(f"dry-run:{key}:spared"), key=key)


def spared_by(definition: Definition, *, key: str, limit: int) -> Spared | None:
    """What the dry run of `definition` spares, kept as its figures are, if its figures' key is
    still `key`, the one of the figures the page showed. None otherwise: a hold, a keep rule, the
    data or the day changed since, and these counts would stand beside figures of other data.
    BrokenKeepRule as dry_run."""
    with timezone.override(settings.TIME_ZONE):
        keep = keeping()
        if figures_key(definition, keep=keep, limit=limit) != key:
            return None
        # get_or_set returns None only when its default is None: here a Spared.
        return cast(
            Spared,
            cache.get_or_set(
                f"dry-run:{key}:spared", lambda: spared_of(definition, keep=keep, limit=limit), DRY_RUN_SECONDS
            ),
        )


def figures_key(definition: Definition, *, keep: "Keeping", limit: int) -> str | None:
    """The key of a dry run's figures, 32 hex digits: of what they depend on besides the data (the
    rule, every keep rule and hold, the day, all in the SQL of what it deletes; the limit), and the
    data version. None when they are not kept: before the first sync, or when nothing is deleted,
    known without the database (a rule whose view is no longer valid matches none(), whose
    figures cost no query)."""
    version = data_version()
    if not version:
        return None
    try:
        sql = str(deletable(definition, keep=keep).query)
    except EmptyResultSet:
        return None
    return md5(f"{version}|{limit}|{sql}".encode(), usedforsecurity=False).hexdigest()


def figures_of(definition: Definition, *, keep: "Keeping", limit: int) -> DryRun:
    # One read of the limit + 1 oldest: the first `limit` are the next run's figures, one more
    # says more are due. Asking that apart (an OFFSET) read the same rows a second time.
    oldest_first = deletable(definition, keep=keep).order_by("add_time", "pk")
    numbered = oldest_first.annotate(position=Window(RowNumber(), order_by=[F("add_time").asc(), F("pk").asc()]))
    next_run = Q(position__lte=limit)
    figures = numbered[: limit + 1].aggregate(
        read=Count("pk"),
        storage_amount=Sum("monthly_recording_storage_amount", filter=next_run),
        oldest=Min("add_time"),
        newest=Max("add_time", filter=next_run),
    )
    read = figures.pop("read")
    return DryRun(to_delete=min(read, limit), more=read > limit, **figures)


def spared_of(definition: Definition, *, keep: "Keeping", limit: int) -> Spared:
    held, kept = held_and_kept(definition, keep=keep, limit=limit)
    return Spared(held=held, kept=kept)


def held_and_kept(definition: Definition, *, keep: Keeping, limit: int | None) -> tuple[int, int]:
    """How many of the recordings due under `definition` a legal hold keeps, and how many, on no
    hold, a keep rule keeps; each counted up to limit + 1 (None: all)."""
    old_enough = due(definition)
    held = old_enough.filter(keep.held)
    kept = keep.among(old_enough).exclude(keep.held)
    if limit is not None:
        # In no order: sorting them first cost a sort of what was read (10 ms at ten million).
        held, kept = held.order_by()[: limit + 1], kept.order_by()[: limit + 1]
    return held.count(), kept.count()


def held_recordings() -> Q:
    """Recordings an active legal hold covers, itself or its whole call. The holds, which are few,
    are read first, so that the database finds their recordings through the primary key and the
    call index rather than testing every recording against the holds."""
    holds = LegalHold.objects.active()
    ids = list(holds.exclude(recording=None).values_list("recording_id", flat=True))
    calls = list(holds.filter(recording=None).values_list("call_uuid", flat=True))
    return Q(pk__in=ids) | Q(call_uuid__in=calls)


def deletable(definition: Definition, *, keep: Keeping) -> RecordingQuerySet:
    """What deleting by `definition` deletes today: due, on no legal hold, kept by no keep rule.
    Holds come first, then keep rules, then delete rules."""
    return keep.left_of(due(definition).exclude(keep.held))
