"""Transcripts in pages: `{{ recording.matched.snippet|highlighted }}`."""

from django import template

from recordings.transcripts import highlighted

register = template.Library()
register.filter("highlighted", highlighted)
