from datetime import datetime
from datetime import timezone as dt_timezone

from django import template

register = template.Library()


@register.filter
def duration(milliseconds):
    """7880 -> "0:08"; 4000000 -> "1:06:40"; None -> "–"."""
    if milliseconds is None or milliseconds == "":
        return "–"
    seconds = round(int(milliseconds) / 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@register.filter
def hours_minutes(milliseconds):
    """Total listening time for a summary: "12 h 04 m", "7 m", "45 s"."""
    seconds = round((milliseconds or 0) / 1000)
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours:
        return f"{hours:,} h {minutes:02d} m"
    return f"{minutes} m" if minutes else f"{seconds} s"


@register.filter
def short_id(value, length=8):
    return value[:length] if value else ""


@register.filter
def epoch_ms(value):
    """Epoch milliseconds as Vobiz sends recording_start_ms / recording_end_ms, as an aware
    datetime (for `|date`); None, or a number no calendar holds, is None."""
    if value in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=dt_timezone.utc)
    except (OverflowError, OSError, ValueError, TypeError):
        return None
