"""The tables (recordings, sync runs, audit log), their paginators, and the table options every table
reads once from the query: rows per page (checked, with the page it counts); the sort field is
kept in the same form, and django-tables2's RequestConfig sorts by it."""

from dataclasses import dataclass
from datetime import datetime

import django_tables2 as tables
from django import forms
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django.utils.safestring import SafeString
from django_tables2.rows import BoundRow, BoundRows

from recordings.browsing.counting import Summary
from recordings.formatting import action_badge, badge, duration, id_link, local_time
from recordings.models import AuditEvent, Recording, SyncRun

PER_PAGE_CHOICES = (25, 50, 100)
INDEX_ONLY_OFFSET = 1_000  # rows skipped before a page is read ids first (RecordingTable.page_records)
COUNT_ATTRS = {"td": {"class": "num"}, "th": {"class": "num"}}


MAX_PAGE = 1_000_000  # beyond any real table: a URL asking more only makes a count scan further


@dataclass(frozen=True)
class TableOptions:
    """A table's rows per page and the page it shows, as its query asks for them: read once per
    request (`TableOptionsForm.table_options`), then given to the count and to the paginator."""

    per_page: int = PER_PAGE_CHOICES[0]
    page: int = 1  # as far as counting goes: django-tables2 reads and checks the page itself

    def paginate(self, paginator_class: type[Paginator] | None = None, **kwargs: object) -> dict[str, object]:
        """RequestConfig's `paginate`: an OptionsPaginator (or a subclass, told `kwargs` too), told these options."""
        return {"paginator_class": paginator_class or OptionsPaginator, "options": self, **kwargs}


class TableOptionsForm(forms.Form):
    """The one reader of a table's options in a query; a table's filter form shows its fields among
    the filters' (TableFilterSet), so that one GET form makes every view of a table."""

    per_page = forms.TypedChoiceField(
        label="Rows",
        choices=[(choice, f"{choice} per page") for choice in PER_PAGE_CHOICES],
        coerce=int,
        required=False,
        empty_value=None,
    )
    sort = forms.CharField(required=False, widget=forms.HiddenInput)  # read by RequestConfig, kept by the form

    def table_options(self, *, per_page: int = PER_PAGE_CHOICES[0]) -> TableOptions:
        """The options asked for; `per_page` when none (or one not offered) is."""
        self.is_valid()  # a size not offered is the form's error, and no choice
        chosen = self.cleaned_data.get("per_page") if self.is_bound else None
        try:
            page = min(max(int(self.data.get("page", 1)), 1), MAX_PAGE)
        except ValueError:
            page = 1
        return TableOptions(per_page=chosen or per_page, page=page)


class OptionsPaginator(Paginator[BoundRow]):
    """Pages of the table options' size. RequestConfig passes on the query's own `per_page`, read
    again unchecked; the options have read it already, refusing a size not offered."""

    def __init__(self, object_list: BoundRows, per_page: int | str, *, options: TableOptions) -> None:
        super().__init__(object_list, options.per_page)


class CountedPaginator(OptionsPaginator):
    """Told the count the page already computed (a Summary), so that it does not count again.

    When the summary is a lower bound ("more than N"), the paginator knows of one row more, so
    the page after the bound's last exists; the template then does not name a last page.
    """

    def __init__(self, object_list: BoundRows, per_page: int | str, *, options: TableOptions, summary: Summary) -> None:
        super().__init__(object_list, per_page, options=options)
        self.count_is_lower_bound = not summary.exact
        self.known_count = summary.count if summary.exact else summary.count + 1

    @cached_property
    def count(self) -> int:
        return self.known_count


class RecordingTable(tables.Table):
    """The recordings table: django-tables2 makes the header, sorting and pagination, and
    recordings/recording_table.html writes each row (its cells in one place, fast at 100 rows)."""

    selected = tables.CheckBoxColumn(
        accessor="recording_id",
        attrs={"th__input": {"data-select-all": "selected", "aria-label": "Select every row on this page"}},
    )
    add_time = tables.Column(verbose_name="Added", order_by=("add_time", "id"))
    from_number = tables.Column(verbose_name="From")
    to_number = tables.Column(verbose_name="To")
    recording_type = tables.Column(verbose_name="Type", orderable=False)
    recording_duration_ms = tables.Column(verbose_name="Duration", attrs={"th": {"class": "num"}})
    recording_format = tables.Column(verbose_name="Format", orderable=False)
    call_uuid = tables.Column(verbose_name="Call", orderable=False)
    player = tables.Column(
        verbose_name="Listen", orderable=False, empty_values=(), attrs={"th": {"class": "player-cell"}}
    )
    review_state = tables.Column(verbose_name="Review", orderable=False)
    transcript_snippet = tables.Column(verbose_name="Said", accessor="matched__snippet", orderable=False)
    actions = tables.Column(verbose_name="Open", orderable=False, empty_values=())
    AUDITOR_COLUMNS = ("selected", "review_state")
    SEARCH_COLUMNS = ("transcript_snippet",)  # only with a transcript search, which gives each row `matched`

    class Meta:
        model = Recording
        fields = ()
        sequence = (
            "selected",
            "add_time",
            "from_number",
            "to_number",
            "recording_type",
            "recording_duration_ms",
            "recording_format",
            "call_uuid",
            "player",
            "review_state",
            "transcript_snippet",
            "actions",
        )
        order_by = "-add_time"
        attrs = {"class": "recordings", "data-row-keys": ""}
        empty_text = "No recordings match these filters."
        template_name = "recordings/recording_table.html"

    @classmethod
    def of_view(cls, queryset: QuerySet[Recording], *, search: bool, **kwargs: object) -> "RecordingTable":
        """The table of a view, sorted by its `sort` parameter once a RequestConfig configures it."""
        # A transcript search comes in its own order (see transcript_search.search) unless a column is sorted on.
        return cls(queryset, order_by_field="sort", order_by=() if search else None, **kwargs)

    @property
    def ordered_data(self) -> QuerySet[Recording]:
        """The table's queryset in the order it shows."""
        return self.data.data

    @property
    def shows_audit_columns(self) -> bool:
        return "selected" in self.columns

    @property
    def shows_transcript_snippets(self) -> bool:
        return "transcript_snippet" in self.columns

    @cached_property
    def page_records(self) -> list[Recording]:
        """The recordings of the page shown (read once: the view and the template both use them).

        OFFSET makes the database read every row it skips; far into the table it skips them in
        an index alone (ids only), then reads the page's rows by id: page 2,000 in a few
        milliseconds instead of reading 50,000 rows. By id through the view's own queryset, so
        that those rows have what the first pages' have: its marks (on hold, masked) and a
        search's highlights (one more query, as on any page of a search).
        """
        offset = (self.page.number - 1) * self.paginator.per_page
        if offset < INDEX_ONLY_OFFSET:
            return [row.record for row in self.paginated_rows]
        # The table's data, ordered as the table sorts it, sliced to the page: a queryset.
        page = self.data[offset : offset + self.paginator.per_page]
        ids = list(page.values_list("pk", flat=True))
        by_id = {record.pk: record for record in self.ordered_data.order_by().filter(pk__in=ids)}
        return [by_id[pk] for pk in ids if pk in by_id]


class SyncRunTable(tables.Table):
    pages = tables.Column(attrs=COUNT_ATTRS)
    created = tables.Column(verbose_name="New", attrs=COUNT_ATTRS)
    updated = tables.Column(attrs=COUNT_ATTRS)
    unchanged = tables.Column(attrs=COUNT_ATTRS)
    skipped = tables.Column(attrs=COUNT_ATTRS)
    incomplete = tables.Column(attrs=COUNT_ATTRS)
    unread = tables.Column(verbose_name="Not read", attrs=COUNT_ATTRS)
    gone = tables.Column(attrs=COUNT_ATTRS)
    total_upstream = tables.Column(verbose_name="At Vobiz", attrs=COUNT_ATTRS)
    started_at = tables.Column(verbose_name="Started")
    duration = tables.Column(empty_values=(), orderable=False)
    error = tables.Column(verbose_name="Reason", attrs={"td": {"class": "wrap"}})

    class Meta:
        model = SyncRun
        fields = (
            "started_at",
            "mode",
            "status",
            "duration",
            "pages",
            "created",
            "updated",
            "unchanged",
            "skipped",
            "incomplete",
            "unread",
            "gone",
            "total_upstream",
            "error",
        )
        order_by = "-started_at"
        attrs = {"class": "sync-runs"}
        empty_text = "No sync has run yet."

    def render_started_at(self, value: datetime) -> SafeString | str:
        return local_time(value, "second")

    def render_status(self, record: SyncRun, value: str) -> SafeString:
        return badge(record.status, value)

    def render_duration(self, record: SyncRun) -> str:
        if record.duration is None:
            return "running" if record.status == "running" else "–"
        return duration(round(record.duration.total_seconds() * 1000))


class AuditEventTable(tables.Table):
    at = tables.Column(verbose_name="When", order_by=("at", "id"))
    # The name kept on the event, so rows of removed accounts still say who it was.
    username = tables.Column(verbose_name="Who", order_by=("username", "-at", "-id"))
    action = tables.Column(order_by=("action", "-at", "-id"))
    recording = tables.Column(
        accessor="recording__recording_id", verbose_name="Recording", orderable=False, attrs={"td": {"class": "mono"}}
    )
    call_uuid = tables.Column(verbose_name="Call", orderable=False, attrs={"td": {"class": "mono"}})
    ip_address = tables.Column(verbose_name="IP", orderable=False, attrs={"td": {"class": "mono"}})
    user_agent = tables.TemplateColumn(template_name="tables/user_agent_cell.html", orderable=False)
    note = tables.Column(orderable=False, attrs={"td": {"class": "wrap"}})

    class Meta:
        model = AuditEvent
        fields = ()
        sequence = ("at", "username", "action", "recording", "call_uuid", "ip_address", "user_agent", "note")
        order_by = "-at"
        attrs = {"class": "audit-log"}
        empty_text = "No events match these filters."

    def render_at(self, value: datetime) -> SafeString | str:
        return local_time(value, "second")

    def render_action(self, record: AuditEvent) -> SafeString:
        return action_badge(record.action, record.get_action_display())

    def render_recording(self, value: str) -> SafeString | str:
        return id_link("recordings:detail", value)

    def render_call_uuid(self, value: str) -> SafeString | str:
        return id_link("recordings:call", value)
