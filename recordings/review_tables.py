"""Tables of the quality review pages: notes at moments, samples and their recordings."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from .models import MomentNote
from .tables import local_time
from .templatetags.moments import moment
from .templatetags.phone_numbers import phone


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

    def render_created_at(self, value):
        return local_time(value)

    def render_at_ms(self, record):
        url = reverse("recordings:detail", args=[record.recording.recording_id])
        return format_html(
            '<a class="mono" href="{}?t={}#notes">{}</a>', url, record.at_ms // 1000, moment(record.at_ms)
        )

    def render_call(self, record):
        recording = record.recording
        return format_html("{} → {}", phone(recording.from_number) or "–", phone(recording.to_number) or "–")
