"""`{{ note.at_ms|moment }}`: a moment of a recording as its player shows it (recordings.formatting)."""

from django import template

from recordings.formatting import moment

register = template.Library()
register.filter("moment", moment)
