import re

import django_tables2 as tables
from django.core.paginator import Paginator
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import DateFormat
from django.utils.functional import cached_property
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from .models import AuditEvent, Recording, SyncRun
from .templatetags.phone_numbers import phone
from .templatetags.recording_format import duration, short_id
from .transcripts import highlighted

PER_PAGE_CHOICES = (25, 50, 100)
INDEX_ONLY_OFFSET = 1_000  # rows skipped before a page is read ids first (RecordingTable.page_records)
COUNT_ATTRS = {"td": {"class": "num"}, "th": {"class": "num"}}


class ChoicePaginator(Paginator):
    """Pages of one of the offered sizes, whatever a URL asks for (django-tables2 passes it on)."""

    def __init__(self, object_list, per_page, *args, **kwargs):
        if per_page not in PER_PAGE_CHOICES:
            per_page = PER_PAGE_CHOICES[0]
        super().__init__(object_list, per_page, *args, **kwargs)


class CountedPaginator(ChoicePaginator):
    """Told the count the page already computed (a Summary), so that it does not count again.

    When the summary is a lower bound ("more than N"), the paginator knows of one row more, so
    the page after the bound's last exists; the template then does not name a last page.
    """

    def __init__(self, *args, summary, **kwargs):
        super().__init__(*args, **kwargs)
        self.count_is_lower_bound = not summary.exact
        self.known_count = summary.count if summary.exact else summary.count + 1

    @cached_property
    def count(self):
        return self.known_count


MAX_PAGE = 1_000_000  # beyond any real table: a URL asking more only makes a count scan further


def page_number(request):
    """The page a request asks for, as far as counting goes (django-tables2 validates it itself)."""
    try:
        return min(max(int(request.GET.get("page", 1)), 1), MAX_PAGE)
    except ValueError:
        return 1


def per_page(request):
    """The rows per page the request asks for, if it is one of the choices."""
    try:
        value = int(request.GET.get("per_page", PER_PAGE_CHOICES[0]))
    except ValueError:
        return PER_PAGE_CHOICES[0]
    return value if value in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]


def local_time(value):
    """A <time> in the configured zone, the zone named, the exact time on hover."""
    value = timezone.localtime(value)
    # date_format(value, "j M Y H:i:s T") and "j M Y H:i T", calling the same formatters but
    # parsing no format string: that parsing was most of the cost, twice a table row.
    parts = DateFormat(value)
    day, hour_minute, zone = f"{parts.j()} {parts.M()} {parts.Y()}", f"{parts.H()}:{parts.i()}", parts.T()
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        f"{day} {hour_minute}:{parts.s()} {zone}",
        f"{day} {hour_minute} {zone}",
    )


def short_link(url, value):
    """A link to a recording or call showing the start of its long id, the whole id on hover."""
    return format_html('<a href="{}" title="{}">{}…</a>', url, value, short_id(value))


def compact_player(recording):
    return get_template("recordings/_player.html").render({"recording": recording, "compact": True})


# Markup that table rows repeat around their ids (the compact player, links) is made once a page
# with this stand-in id, and each row puts its own id in its place: reverse() and a template
# render cost tens of microseconds, several times a row. URLs and HTML leave a PLAIN_ID as it is,
# so it can be put in as is; any other id takes the slow way.
STAND_IN_ID = "stand-in-id-0"
PLAIN_ID = re.compile(r"[A-Za-z0-9_-]+")


class RecordingTable(tables.Table):
    selected = tables.CheckBoxColumn(
        accessor="recording_id",
        attrs={
            "th__input": {"data-select-all": "selected", "aria-label": "Select every row on this page"},
            "td__input": {"aria-label": "Select this recording"},
        },
    )
    add_time = tables.Column(verbose_name="Added", order_by=("add_time", "id"))
    from_number = tables.Column(verbose_name="From", attrs={"td": {"class": "mono"}})
    to_number = tables.Column(verbose_name="To", attrs={"td": {"class": "mono"}})
    recording_type = tables.Column(verbose_name="Type", orderable=False)
    recording_duration_ms = tables.Column(verbose_name="Duration", attrs=COUNT_ATTRS)
    recording_format = tables.Column(verbose_name="Format", orderable=False)
    call_uuid = tables.Column(verbose_name="Call", orderable=False, attrs={"td": {"class": "mono"}})
    player = tables.Column(
        verbose_name="Listen", orderable=False, empty_values=(), attrs={"td": {"class": "player-cell"}}
    )
    review_state = tables.Column(verbose_name="Review", orderable=False)
    transcript_snippet = tables.Column(verbose_name="Said", orderable=False, attrs={"td": {"class": "wrap snippet"}})
    actions = tables.Column(verbose_name="Open", orderable=False, empty_values=())
    AUDITOR_COLUMNS = ("selected", "review_state")
    SEARCH_COLUMNS = ("transcript_snippet",)  # shown only with a transcript search, which annotates it

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

    def body_rows(self):
        """The page's rows as HTML, built in one pass.

        django-tables2 renders cell by cell in the template, inspecting each render method's
        signature and rendering each cell's attributes: about 4 ms a row, 0.5 s for 100 rows.
        The header, sorting and pagination stay django-tables2's.
        """
        columns = [(column.name, column.attrs["td"].as_html()) for column in self.columns]
        for record in self.page_records():
            # What format_html would make, without parsing a format string for every cell.
            cells = (f"<td {attrs}>{conditional_escape(self.cell(name, record))}</td>" for name, attrs in columns)
            yield mark_safe(f"<tr>{''.join(cells)}</tr>")

    def page_records(self):
        """The recordings of the page shown.

        OFFSET makes the database read every row it skips; far into the table it skips them in
        an index alone (ids only), then reads the page's rows by id: page 2,000 in a few
        milliseconds instead of reading 50,000 rows.
        """
        offset = (self.page.number - 1) * self.paginator.per_page
        if offset < INDEX_ONLY_OFFSET:
            return [row.record for row in self.paginated_rows]
        queryset = self.data.data  # django-tables2's ordered queryset
        ids = list(queryset.values_list("pk", flat=True)[offset : offset + self.paginator.per_page])
        by_id = queryset.order_by().in_bulk(ids)
        return [by_id[pk] for pk in ids if pk in by_id]

    def cell(self, name, record):
        render = getattr(self, f"render_{name}")
        if name in self.ALWAYS_RENDERED:
            return render(record)
        value = getattr(record, name)
        return self.default if value in (None, "") else render(record)

    ALWAYS_RENDERED = ("selected", "player", "actions")

    def render_selected(self, record):
        return format_html(
            '<input type="checkbox" name="selected" value="{}" aria-label="Select this recording">', record.recording_id
        )

    def render_add_time(self, record):
        return local_time(record.add_time)

    def render_from_number(self, record):
        return phone(record.from_number)

    def render_to_number(self, record):
        return phone(record.to_number)

    @cached_property
    def stand_in_markup(self):
        """The markup rows repeat around their ids, made once a page for the stand-in id."""
        return {
            "player": compact_player({"recording_id": STAND_IN_ID}),
            **{name: reverse(name, args=[STAND_IN_ID]) for name in ("recordings:detail", "recordings:call")},
        }

    def url(self, name, value):
        """reverse(name, args=[value])"""
        if PLAIN_ID.fullmatch(value):
            return self.stand_in_markup[name].replace(STAND_IN_ID, value)
        return reverse(name, args=[value])

    def render_player(self, record):
        if PLAIN_ID.fullmatch(record.recording_id):  # safe: the template's markup, an id that needs no escaping
            return mark_safe(self.stand_in_markup["player"].replace(STAND_IN_ID, record.recording_id))
        return compact_player(record)

    def render_actions(self, record):
        details = format_html(
            '<a class="btn btn-small btn-secondary" href="{}">Details</a>',
            self.url("recordings:detail", record.recording_id),
        )
        if record.gone_at or record.deleted_at:
            return format_html(
                '{} <span class="badge badge-gone">{}</span>', details, "deleted" if record.deleted_at else "gone"
            )
        return details

    def render_recording_type(self, record):
        return format_html('<span class="badge badge-{}">{}</span>', record.recording_type, record.recording_type)

    def render_review_state(self, record):
        return format_html(
            '<span class="badge badge-{}" title="{}">{}</span>',
            record.review_state,
            record.review_note,
            record.get_review_state_display(),
        )

    def render_recording_format(self, record):
        return record.recording_format.upper()

    def render_recording_duration_ms(self, record):
        return duration(record.recording_duration_ms)

    def render_call_uuid(self, record):
        return short_link(self.url("recordings:call", record.call_uuid), record.call_uuid)

    def render_transcript_snippet(self, record):
        return highlighted(record.transcript_snippet)


class SyncRunTable(tables.Table):
    pages = tables.Column(attrs=COUNT_ATTRS)
    created = tables.Column(verbose_name="New", attrs=COUNT_ATTRS)
    updated = tables.Column(attrs=COUNT_ATTRS)
    unchanged = tables.Column(attrs=COUNT_ATTRS)
    skipped = tables.Column(attrs=COUNT_ATTRS)
    gone = tables.Column(attrs=COUNT_ATTRS)
    total_upstream = tables.Column(verbose_name="At Vobiz", attrs=COUNT_ATTRS)
    started_at = tables.DateTimeColumn(verbose_name="Started", format="j M Y H:i:s T")
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
            "gone",
            "total_upstream",
            "error",
        )
        order_by = "-started_at"
        attrs = {"class": "sync-runs"}
        empty_text = "No sync has run yet."

    def render_status(self, record, value):
        return format_html('<span class="badge badge-{}">{}</span>', record.status, value)

    def render_duration(self, record):
        if record.duration is None:
            return "running" if record.status == "running" else "–"
        return f"{record.duration.total_seconds():.1f} s"


# The stylesheet's colour badges: listening blue, verdicts green or red, holds amber, deletions red.
ACTION_BADGES = {
    AuditEvent.Action.PLAY: "blue",
    AuditEvent.Action.DOWNLOAD: "blue",
    AuditEvent.Action.REVIEW: "green",
    AuditEvent.Action.FLAG: "red",
    AuditEvent.Action.CLEAR_REVIEW: "grey",
    AuditEvent.Action.HOLD: "amber",
    AuditEvent.Action.RELEASE: "amber",
    AuditEvent.Action.DELETE: "red",
    AuditEvent.Action.DELETE_FAILED: "red",
    AuditEvent.Action.SYNC: "violet",
    AuditEvent.Action.NOTE: "grey",
    AuditEvent.Action.SAMPLE: "violet",
    AuditEvent.Action.EXPORT: "grey",
    AuditEvent.Action.TABLE_EXPORT: "grey",
}


class AuditEventTable(tables.Table):
    at = tables.DateTimeColumn(verbose_name="When", format="j M Y H:i:s T", order_by=("at", "id"))
    # The name kept on the event, so rows of removed accounts still say who it was.
    username = tables.Column(verbose_name="Who", order_by=("username", "-at", "-id"))
    action = tables.Column(order_by=("action", "-at", "-id"))
    recording = tables.Column(
        accessor="recording__recording_id", verbose_name="Recording", orderable=False, attrs={"td": {"class": "mono"}}
    )
    call_uuid = tables.Column(verbose_name="Call", orderable=False, attrs={"td": {"class": "mono"}})
    ip_address = tables.Column(verbose_name="IP", orderable=False, attrs={"td": {"class": "mono"}})
    user_agent = tables.Column(orderable=False)
    note = tables.Column(orderable=False, attrs={"td": {"class": "wrap"}})

    class Meta:
        model = AuditEvent
        fields = ()
        sequence = ("at", "username", "action", "recording", "call_uuid", "ip_address", "user_agent", "note")
        order_by = "-at"
        attrs = {"class": "audit-log"}
        empty_text = "No events match these filters."

    def render_action(self, record):
        return format_html(
            '<span class="badge badge-{}">{}</span>', ACTION_BADGES[record.action], record.get_action_display()
        )

    def render_recording(self, value):
        return short_link(reverse("recordings:detail", args=[value]), value)

    def render_call_uuid(self, value):
        return short_link(reverse("recordings:call", args=[value]), value)

    def render_user_agent(self, value):
        return format_html('<span title="{}">{}</span>', value, Truncator(value).chars(40))
