import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from .models import Recording, SyncRun
from .templatetags.recording_format import duration, short_id

PER_PAGE_CHOICES = (25, 50, 100)
COUNT_ATTRS = {"td": {"class": "num"}, "th": {"class": "num"}}


class RecordingTable(tables.Table):
    add_time = tables.TemplateColumn(
        verbose_name="Added",
        template_name="recordings/cells/added.html",
        order_by=("add_time", "id"),
    )
    from_number = tables.Column(verbose_name="From", attrs={"td": {"class": "mono"}})
    to_number = tables.Column(verbose_name="To", attrs={"td": {"class": "mono"}})
    recording_type = tables.Column(verbose_name="Type", orderable=False)
    recording_duration_ms = tables.Column(verbose_name="Duration", attrs=COUNT_ATTRS)
    recording_format = tables.Column(verbose_name="Format", orderable=False)
    call_uuid = tables.Column(verbose_name="Call", orderable=False, attrs={"td": {"class": "mono"}})
    player = tables.TemplateColumn(
        verbose_name="Listen",
        template_code='{% include "recordings/_player.html" with recording=record compact=True %}',
        orderable=False,
        empty_values=(),
        attrs={"td": {"class": "player-cell"}},
    )
    actions = tables.TemplateColumn(
        verbose_name="",
        template_name="recordings/cells/actions.html",
        orderable=False,
        empty_values=(),
    )

    class Meta:
        model = Recording
        fields = ()
        sequence = (
            "add_time", "from_number", "to_number", "recording_type", "recording_duration_ms",
            "recording_format", "call_uuid", "player", "actions",
        )
        order_by = "-add_time"
        attrs = {"class": "recordings"}
        empty_text = "No recordings match these filters."

    def render_recording_type(self, value):
        return format_html('<span class="badge badge-{}">{}</span>', value, value)

    def render_recording_format(self, value):
        return value.upper()

    def render_recording_duration_ms(self, value):
        return duration(value)

    def render_call_uuid(self, value):
        return format_html(
            '<a href="{}" title="{}">{}…</a>', reverse("recordings:call", args=[value]), value, short_id(value)
        )


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
        fields = ("started_at", "mode", "status", "duration", "pages", "created", "updated", "unchanged",
                  "skipped", "gone", "total_upstream", "error")
        order_by = "-started_at"
        attrs = {"class": "sync-runs"}
        empty_text = "No sync has run yet."

    def render_status(self, record, value):
        return format_html('<span class="badge badge-{}">{}</span>', record.status, value)

    def render_duration(self, record):
        if record.duration is None:
            return "running" if record.status == "running" else "–"
        return f"{record.duration.total_seconds():.1f} s"
