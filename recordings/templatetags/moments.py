from django import template

register = template.Library()


@register.filter
def moment(milliseconds):
    """A position in a recording as its player shows it, in whole seconds gone by: 62500 -> "1:02"."""
    seconds = int(milliseconds) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
