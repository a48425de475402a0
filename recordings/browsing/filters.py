"""The filter forms above the recordings table and the audit log; every filter is a plain GET parameter.

Each form also shows its table's rows per page and sort (a TableOptionsForm of the same query), so
that one GET form makes every view of a table and each view is a shareable URL. Those two are no
filters: they narrow nothing, and no count depends on them (`filters_in_force`).
"""

from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import django_filters
from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Exists, QuerySet
from django.forms import BoundField
from django.http import QueryDict
from django.utils import timezone

from recordings.browsing import counting
from recordings.browsing import search as browsing_search
from recordings.browsing import transcript_search as browsing_transcript_search
from recordings.browsing.search import matching_number
from recordings.browsing.tables import TableOptions, TableOptionsForm
from recordings.browsing.time_of_day import time_of_day
from recordings.browsing.transcript_search import masked_recordings
from recordings.formatting import SHORT_ID_LENGTH
from recordings.models import MASKED_KINDS, AuditEvent, LegalHold, Recording, RecordingQuerySet, ReviewState
from recordings.time_zones import start_of_local_day

RECORDING_TYPES = [("call", "Call"), ("conference", "Conference"), ("trunk", "Trunk"), ("extension", "Extension")]
RECORDING_FORMATS = [("mp3", "MP3"), ("wav", "WAV")]


# The characters of an id the tables show: the least prefix that finds one.
ID_PREFIX_LENGTH = SHORT_ID_LENGTH

# Dates outside these bounds are typing mistakes, and would overflow the day arithmetic.
DATE_BOUNDS = [MinValueValidator(date(1970, 1, 1)), MaxValueValidator(date(2999, 12, 31))]


def non_empty(query: QueryDict) -> QueryDict:
    """`query` without its empty values: an empty filter is no filter, and a link need not name it."""
    kept = QueryDict(mutable=True)
    for name, values in query.lists():
        if any(values):
            kept.setlist(name, [value for value in values if value])
    return kept


class TableFilterSet(django_filters.FilterSet):
    """Filters above a django-tables2 table, with the table's own options in the same form."""

    # Shown first, beside Apply; the other filters fold behind "More filters" (none: a plain grid).
    searched_first: tuple[str, ...] = ()
    # The first and last day filters that the quick ranges (Today, Last 7 days) set, if any, and
    # the filters a quick range replaces.
    day_range: tuple[str, str] | None = None
    replaced_by_day_range: tuple[str, ...] = ()

    def __init__(self, data: QueryDict | None = None, *args: object, **kwargs: object) -> None:
        super().__init__(data, *args, **kwargs)
        self.options_form = TableOptionsForm(data)

    def is_valid(self) -> bool:
        """Whether the whole query is: its filters and its table's options."""
        return super().is_valid() and self.options_form.is_valid()

    @property
    def table_options(self) -> TableOptions:
        return self.options_form.table_options()

    def visible_fields(self) -> list[BoundField]:
        """The form's fields to show: the filters, then the table's options."""
        return self.form.visible_fields() + self.options_form.visible_fields()

    def hidden_fields(self) -> list[BoundField]:
        return self.form.hidden_fields() + self.options_form.hidden_fields()

    def filters_in_force(self) -> dict[str, str]:
        """The valid filters that are set, as text: what a count of this view depends on."""
        self.is_valid()
        return {name: str(value) for name, value in self.form.cleaned_data.items() if value not in (None, "")}

    def query_key(self) -> str:
        """The query but for its page number, as text: all the form's values and errors come from it.
        Names sorted, each one's values in their order (a field shows the last of them)."""
        data = self.data
        return urlencode([(name, value) for name in sorted(data) if name != "page" for value in data.getlist(name)])


OLDEST_AGE_DAYS = 36_500  # a hundred years: anything more is a typing mistake


def older_than_bound(days: int) -> date:
    """The first day a recording "older than `days` days" may not be on: today less `days`, in the
    viewer's zone. A whole day, so nothing younger than `days` days is ever included."""
    return timezone.localdate() - timedelta(days=days)


class WholeDaysFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class RecordingFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("time_from"), data.get("time_until")
        if start is not None and start == end:  # an empty range, or the whole day: neither is meant
            self.add_error("time_until", "Choose two different times.")
        return data


class RecordingFilter(TableFilterSet):
    searched_first = ("q", "transcript")  # what support staff ask most: a number or id, words said
    day_range = ("added_after", "added_before")
    replaced_by_day_range = ("older_than",)

    q = django_filters.CharFilter(
        label="Search",
        method="filter_search",
        widget=forms.TextInput(attrs={"placeholder": "Number, last digits, call or recording id", "type": "search"}),
    )
    call_uuid = django_filters.CharFilter(label="Call id", field_name="call_uuid")
    transcript = django_filters.CharFilter(
        label="Words said",
        method="filter_transcript",
        widget=forms.TextInput(attrs={"placeholder": "Words in the transcript", "type": "search"}),
    )
    recording_type = django_filters.ChoiceFilter(label="Type", choices=RECORDING_TYPES, empty_label="Any type")
    recording_format = django_filters.ChoiceFilter(label="Format", choices=RECORDING_FORMATS, empty_label="Any format")
    from_number = django_filters.CharFilter(label="From", method="filter_number")
    to_number = django_filters.CharFilter(label="To", method="filter_number")
    added_after = django_filters.DateFilter(
        label="Added from",
        method="filter_added_after",
        validators=DATE_BOUNDS,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="From the start of this day, included.",
    )
    added_before = django_filters.DateFilter(
        label="Added until",
        method="filter_added_before",
        validators=DATE_BOUNDS,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="To the end of this day, included.",
    )
    older_than = WholeDaysFilter(
        label="Older than (days)",
        method="filter_older_than",
        min_value=1,
        max_value=OLDEST_AGE_DAYS,
        widget=forms.NumberInput(attrs={"min": 1, "step": 1, "inputmode": "numeric"}),
        help_text="Added before the start of the day that many days ago: nothing younger.",
    )
    time_from = django_filters.TimeFilter(
        label="Time of day from",
        method="filter_time_of_day",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="On any day, from this time (in your zone), included.",
    )
    time_until = django_filters.TimeFilter(
        label="Time of day until",
        method="filter_time_of_day",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="Up to this time, not included; earlier than From: across midnight (22:00 to 02:00).",
    )
    min_duration = django_filters.NumberFilter(
        label="Min seconds", method="filter_min_duration", min_value=0, max_value=10**8
    )
    max_duration = django_filters.NumberFilter(
        label="Max seconds", method="filter_max_duration", min_value=0, max_value=10**8
    )

    status = django_filters.ChoiceFilter(
        label="Status",
        choices=[("removed", "Deleted or gone"), ("all", "All, with deleted")],
        empty_label="At Vobiz",
        method="filter_status",
    )
    hold = django_filters.ChoiceFilter(
        label="Legal hold",
        choices=[("held", "On hold"), ("free", "Not on hold")],
        empty_label="On hold or not",
        method="filter_hold",
    )
    review = django_filters.ChoiceFilter(
        label="Review",
        choices=[*ReviewState.choices, ("none", "Not reviewed")],
        empty_label="Any review state",
        method="filter_review",
    )

    masked = django_filters.ChoiceFilter(
        label="Transcript",
        choices=[("masked", "Payment or ID data masked")]
        + [(name, f"{label[0].upper()}{label[1:]} masked") for name, label in MASKED_KINDS.items()],
        empty_label="Any transcript",
        method="filter_masked",
    )
    audio = django_filters.ChoiceFilter(
        label="Audio",
        choices=[("changed", "Changed at Vobiz since first hashed")],
        empty_label="Any audio",
        method="filter_audio",
    )

    class Meta:
        model = Recording
        fields: list[str] = []
        form = RecordingFilterForm

    def __init__(self, data: QueryDict | None = None, *args: object, auditor: bool = False, **kwargs: object) -> None:
        super().__init__(data, *args, **kwargs)
        if not auditor:
            del self.filters["review"]
            del self.filters["hold"]
            del self.filters["masked"]
            del self.filters["audio"]
        # Searched last, on the rows the other filters leave: the search orders them as well.
        self.filters["transcript"] = self.filters.pop("transcript")
        self.searched: browsing_transcript_search.Search | None = None  # by filter_transcript
        self.substring_search = False  # by filter_search: part of a conference name
        self.by_time_of_day = False  # by filter_time_of_day

    def filter_masked(self, queryset: QuerySet[Recording], name: str, value: str) -> QuerySet[Recording]:
        return masked_recordings(queryset, kind=MASKED_KINDS.get(value, ""))  # "masked": of any kind

    def filter_audio(self, queryset: QuerySet[Recording], name: str, value: str) -> QuerySet[Recording]:
        """Recordings whose whole audio, fetched again, differed from what was first hashed."""
        return queryset.filter(audio_hash__changed_at__isnull=False)

    def filter_queryset(self, queryset: RecordingQuerySet) -> QuerySet[Recording]:
        """`queryset` is the one the filterset was made with: Recording.objects' own."""
        if not self.form.cleaned_data.get("status"):
            queryset = queryset.present()  # deleted and gone recordings only on request
        return super().filter_queryset(queryset)

    def filter_transcript(self, queryset: QuerySet[Recording], name: str, value: str) -> QuerySet[Recording]:
        self.searched = browsing_transcript_search.search(queryset, text=value)
        return self.searched.recordings

    @property
    def transcript_search(self) -> browsing_transcript_search.Search | None:
        """The search of the words said that filtering made (None without words), with its own
        count and order: filtered first, whenever it is asked."""
        self.qs  # filtering, once (django-filter keeps `qs`), searches the words
        return self.searched

    @property
    def count_bound(self) -> int:
        """How far a page of this view counts its recordings (see counting.summarise). A time of
        day is worked out row by row, in no index: a narrow one (03:00-03:05) read 2.9 million
        rows of ten million to count 10,000, 373 ms; to 1,000 it reads a tenth of that."""
        search = self.transcript_search
        if search:
            return browsing_transcript_search.count_bound(search.best_first)
        return counting.TIME_OF_DAY_COUNT_BOUND if self.by_time_of_day else counting.COUNT_BOUND

    @property
    def counted_qs(self) -> QuerySet[Recording]:
        """The same recordings as `qs`, in the form that counts them soonest."""
        search = self.transcript_search
        return search.counted if search else self.qs

    def filter_status(self, queryset: RecordingQuerySet, name: str, value: str) -> QuerySet[Recording]:
        """`queryset` is still Recording.objects' own: every filter before it narrows it with filter()."""
        return queryset.removed() if value == "removed" else queryset

    def filter_review(self, queryset: QuerySet[Recording], name: str, value: str) -> QuerySet[Recording]:
        return queryset.filter(review_state="" if value == "none" else value)

    def filter_search(self, queryset: QuerySet[Recording], name: str, value: str) -> QuerySet[Recording]:
        found = browsing_search.search(queryset, text=value)
        self.substring_search = found.by_substring
        return found.recordings

    def filter_number(self, queryset: QuerySet[Recording], name: str, value: str) -> QuerySet[Recording]:
        return queryset.filter(matching_number(name.removesuffix("_number"), value))

    def filter_added_after(self, queryset: QuerySet[Recording], name: str, value: date) -> QuerySet[Recording]:
        return queryset.filter(add_time__gte=start_of_local_day(value))

    def filter_added_before(self, queryset: QuerySet[Recording], name: str, value: date) -> QuerySet[Recording]:
        # "until" includes the whole day.
        return queryset.filter(add_time__lt=start_of_local_day(value + timedelta(days=1)))

    def filter_older_than(self, queryset: QuerySet[Recording], name: str, value: int) -> QuerySet[Recording]:
        return queryset.filter(add_time__lt=start_of_local_day(older_than_bound(value)))

    def filter_time_of_day(self, queryset: QuerySet[Recording], name: str, value: time) -> QuerySet[Recording]:
        """Both times together, as one range: applied once, by the first of them that is set."""
        data = self.form.cleaned_data
        if name == "time_until" and data.get("time_from") is not None:
            return queryset
        self.by_time_of_day = True
        return queryset.filter(time_of_day(data.get("time_from"), data.get("time_until")))

    def filter_hold(self, queryset: QuerySet[Recording], name: str, value: str) -> QuerySet[Recording]:
        held = Exists(LegalHold.objects.covering_row())
        return queryset.filter(held if value == "held" else ~held)

    def filter_min_duration(self, queryset: QuerySet[Recording], name: str, value: Decimal) -> QuerySet[Recording]:
        return queryset.filter(recording_duration_ms__gte=int(value * 1000))

    def filter_max_duration(self, queryset: QuerySet[Recording], name: str, value: Decimal) -> QuerySet[Recording]:
        return queryset.filter(recording_duration_ms__lte=int(value * 1000))


class AuditEventFilter(TableFilterSet):
    """Every action is shown unless one is chosen; "Played or downloaded" answers "who listened"."""

    LISTENING = "listening"
    day_range = ("after", "before")

    user = django_filters.CharFilter(
        label="User",
        field_name="username",  # the name kept on the event, so removed accounts still match
        lookup_expr="icontains",
        widget=forms.TextInput(attrs={"placeholder": "Username or part of it"}),
    )
    action = django_filters.ChoiceFilter(
        label="Action",
        choices=[(LISTENING, "Played or downloaded"), *AuditEvent.Action.choices],
        empty_label="Any action",
        method="filter_action",
    )
    recording = django_filters.CharFilter(
        label="Recording id",
        method="filter_recording",
        help_text=f"The whole id, or its first {ID_PREFIX_LENGTH} characters or more, as the tables show it.",
    )
    call_uuid = django_filters.CharFilter(label="Call id", field_name="call_uuid")
    after = django_filters.DateFilter(
        label="From", method="filter_after", validators=DATE_BOUNDS, widget=forms.DateInput(attrs={"type": "date"})
    )
    before = django_filters.DateFilter(
        label="Until", method="filter_before", validators=DATE_BOUNDS, widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_action(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        if value == self.LISTENING:
            return queryset.filter(action__in=AuditEvent.LISTENING)
        return queryset.filter(action=value)

    def filter_recording(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        # A prefix as long as the tables' short ids finds its recording (PostgreSQL's pattern index
        # on the unique id serves it); a shorter text must be a whole id.
        if len(value) >= ID_PREFIX_LENGTH:
            return queryset.filter(recording__recording_id__startswith=value)
        return queryset.filter(recording__recording_id=value)

    def filter_after(self, queryset: QuerySet[AuditEvent], name: str, value: date) -> QuerySet[AuditEvent]:
        return queryset.filter(at__gte=start_of_local_day(value))

    def filter_before(self, queryset: QuerySet[AuditEvent], name: str, value: date) -> QuerySet[AuditEvent]:
        # "until" includes the whole day.
        return queryset.filter(at__lt=start_of_local_day(value + timedelta(days=1)))
