"""Transcripts in pages: `{{ recording.transcript_snippet|highlighted }}`."""

from django import template

from recordings.transcripts import highlighted

register = template.Library()
register.filter("highlighted", highlighted)
