"""Tables of the quality review pages: notes at moments, samples and their recordings."""

from datetime import datetime

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from recordings.browsing.tables import COUNT_ATTRS
from recordings.formatting import badge, duration, local_time, moment, phone
from recordings.models import MomentNote, ReviewItem


class MomentNoteTable(tables.Table):
    created_at = tables.Column(verbose_name="When", orderable=False)
    username = tables.Column(verbose_name="Who", orderable=False)
    at_ms = tables.Column(verbose_name="Moment", orderable=False)
    text = tables.Column(verbose_name="Note", orderable=False, attrs={"td": {"class": "wrap"}})
    call = tables.Column(verbose_name="Call", accessor="recording__from_number", orderable=False, empty_values=())

    class Meta:
        model = MomentNote
        fields = ()
        sequence = ("created_at", "username", "at_ms", "text", "call")
        attrs = {"class": "notes-found"}
        empty_text = "No note matches."

    def render_created_at(self, value: datetime) -> SafeString | str:
        return local_time(value)

    def render_at_ms(self, record: MomentNote) -> SafeString:
        url = reverse("recordings:detail", args=[record.recording.recording_id])
        return format_html(
            '<a class="mono" href="{}?t={}#notes">{}</a>', url, record.at_ms // 1000, moment(record.at_ms)
        )

    def render_call(self, record: MomentNote) -> SafeString:
        recording = record.recording
        return format_html("{} → {}", phone(recording.from_number) or "–", phone(recording.to_number) or "–")


class ReviewItemTable(tables.Table):
    position = tables.Column(verbose_name="#", orderable=False, attrs=COUNT_ATTRS)
    added = tables.Column(verbose_name="Added", accessor="recording__add_time", orderable=False)
    from_number = tables.Column(verbose_name="From", accessor="recording__from_number", orderable=False)
    to_number = tables.Column(verbose_name="To", accessor="recording__to_number", orderable=False)
    duration = tables.Column(
        verbose_name="Duration", accessor="recording__recording_duration_ms", orderable=False, attrs=COUNT_ATTRS
    )
    outcome = tables.Column(verbose_name="Outcome", orderable=False, empty_values=())
    note = tables.TemplateColumn(
        template_name="tables/review_note_cell.html", orderable=False, empty_values=(), attrs={"td": {"class": "wrap"}}
    )
    reviewer = tables.Column(verbose_name="Reviewer", accessor="reviewed_by", orderable=False)

    class Meta:
        model = ReviewItem
        fields = ()
        sequence = ("position", "added", "from_number", "to_number", "duration", "outcome", "note", "reviewer")
        attrs = {"class": "review-items"}
        empty_text = "This sample holds no recording."

    def render_position(self, record: ReviewItem) -> SafeString:
        url = reverse("recordings:review_item", args=[record.sample_id, record.position])
        return format_html('<a href="{}">{}</a>', url, record.position)

    def render_added(self, value: datetime) -> SafeString | str:
        return local_time(value)

    def render_from_number(self, value: str) -> str | None:
        return phone(value)

    def render_to_number(self, value: str) -> str | None:
        return phone(value)

    def render_duration(self, value: int) -> str:
        return duration(value)

    def render_outcome(self, record: ReviewItem) -> SafeString:
        if not record.outcome:
            return format_html('<span class="muted">{}</span>', "waiting")
        return badge(record.outcome, record.get_outcome_display())

    def render_reviewer(self, record: ReviewItem) -> SafeString | str:
        if not record.outcome:
            return ""
        return format_html("{}, {}", record.reviewed_by or "a removed user", local_time(record.reviewed_at))
