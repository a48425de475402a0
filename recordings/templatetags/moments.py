"""`{{ note.at_ms|moment }}`: a moment of a recording as its player shows it (recordings.formatting)."""

from django import template

from recordings.formatting import moment

register = template.Library()
register.filter("moment", moment)


@register.filter
def whole_seconds(at_ms: int) -> int:
    """A moment's `?t=` in whole seconds: where its m:ss (which drops the fraction) says it starts."""
    return at_ms // 1000
