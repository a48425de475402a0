"""Transcripts in pages: `{{ recording.matched.snippet|highlighted }}`."""

from django import template

from recordings.browsing.transcript_search import highlighted

register = template.Library()
register.filter("highlighted", highlighted)
