"""How every page shows times, durations, badges and links to recordings and calls: one place each.

Templates use these as tags and filters (`{% load recording_format %}`); the tables' render methods
call the same functions. A new way of showing a value belongs here, next to its neighbours.
"""

import re
from datetime import date, datetime
from datetime import timezone as dt_timezone
from functools import lru_cache

from babel.dates import get_timezone_name
from django import template
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.dates import MONTHS, MONTHS_3, WEEKDAYS_ABBR
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import to_locale

register = template.Library()

EMPTY = "–"  # what a missing value shows


# -- durations ------------------------------------------------------------------------------------


@register.filter
def duration(milliseconds: int | str | None) -> str:
    """7880 -> "0:08"; 4000000 -> "1:06:40"; None -> "–"."""
    if milliseconds is None or milliseconds == "":
        return EMPTY
    seconds = round(int(milliseconds) / 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@register.filter
def hours_minutes(milliseconds: int | None) -> str:
    """Total listening time for a summary: "12 h 04 m", "7 m", "45 s"."""
    seconds = round((milliseconds or 0) / 1000)
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours:
        return f"{hours:,} h {minutes:02d} m"
    return f"{minutes} m" if minutes else f"{seconds} s"


@register.filter
def short_id(value: str | None, length: int = 8) -> str:
    return value[:length] if value else ""


# -- times ----------------------------------------------------------------------------------------

TIME_STYLES = ("minute", "second", "day", "ago")


def day_month_year(value: date) -> str:
    return f"{value.day} {MONTHS_3[value.month].title()} {value.year}"


@register.filter
def calendar_day(value: date | None, style: str = "") -> str:
    """A calendar day as plain text, where a <time> cannot go (a chart's labels): "1 Dec 2026";
    "weekday": "Tue 1 Dec 2026"; "short": "1 Dec"."""
    if value is None or value == "":
        return EMPTY
    if style == "short":
        return f"{value.day} {MONTHS_3[value.month].title()}"
    if style == "weekday":
        return f"{WEEKDAYS_ABBR[value.weekday()]} {day_month_year(value)}"
    return day_month_year(value)


@register.filter
def calendar_month(value: date | None, style: str = "") -> str:
    """A month as plain text: "Dec 2026"; "long": "December 2026"."""
    if value is None or value == "":
        return EMPTY
    name = MONTHS[value.month] if style == "long" else MONTHS_3[value.month].title()
    return f"{name} {value.year}"


def ambiguous(value: datetime) -> bool:
    """A local time that happens twice (or never) as the clocks change: date_format names no zone."""
    return value.replace(fold=not value.fold).utcoffset() != value.utcoffset()


@register.simple_tag
def local_time(value: datetime | date | None, style: str = "minute") -> SafeString | str:
    """A <time> in the configured zone, the zone named, the exact second on hover.

    style: "minute" (1 Dec 2026 08:32 UTC), "second" (… 08:32:15 UTC), "day" (1 Dec 2026) or
    "ago" (3 minutes ago). The one date format of the pages: call this rather than `|date`.
    """
    if value is None or value == "":
        return EMPTY
    if style not in TIME_STYLES:
        raise template.TemplateSyntaxError(f"local_time style must be one of {TIME_STYLES}, not {style!r}")
    if not isinstance(value, datetime):  # a calendar day
        return format_html('<time datetime="{}">{}</time>', value.isoformat(), day_month_year(value))
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    # What date_format(value, "j M Y H:i:s T") makes, without parsing a format string: that
    # parsing was most of the cost, on every row of a table (tests/test_templatetags.py compares).
    day, minute, second = day_month_year(value), f"{value.hour:02d}:{value.minute:02d}", f"{value.second:02d}"
    zone = f" {value.tzname()}" if timezone.is_aware(value) and not ambiguous(value) else ""
    exact = f"{day} {minute}:{second}{zone}"
    if style == "minute":
        shown = f"{day} {minute}{zone}"
    elif style == "day":
        shown = day
    elif style == "ago" and zone:
        shown = naturaltime(value)
    else:
        shown = exact
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), exact, shown)


@register.filter
def zone_name(name: str) -> str:
    """A time zone as people read it: "India Time" for Asia/Kolkata, "Eastern Time" for
    America/New_York (Babel's, from CLDR); "UTC" and other zones CLDR names no region for by
    their IANA name."""
    if not name:
        return EMPTY
    try:
        named = get_timezone_name(name, locale=to_locale(settings.LANGUAGE_CODE))
    except LookupError:
        named = ""
    if not named or named.startswith("Unknown"):
        return name.removeprefix("Etc/").replace("_", " ")
    return named


# -- badges ---------------------------------------------------------------------------------------

# The stylesheet's colours for the audit log's actions: listening blue, verdicts green or red,
# holds amber, deletions red. Other badges are named after what they show (a recording type, a
# review state, a run's or a deletion's status, "gone", "held"), each with its rule in app.css.
ACTION_COLOURS = {
    "play": "blue",
    "download": "blue",
    "review": "green",
    "flag": "red",
    "clear_review": "grey",
    "hold": "amber",
    "release": "amber",
    "delete": "red",
    "delete_failed": "red",
    "sync": "violet",
    "note": "grey",
    "sample": "violet",
    "export": "grey",
    "table_export": "grey",
}


@register.simple_tag
def badge(kind: str, label: str | None = None, title: str = "") -> SafeString:
    """A coloured label; `kind` picks the colour and is the label unless one is given."""
    if title:
        return format_html('<span class="badge badge-{}" title="{}">{}</span>', kind, title, label or kind)
    return format_html('<span class="badge badge-{}">{}</span>', kind, label or kind)


@register.simple_tag
def action_badge(action: str, label: str) -> SafeString:
    """An audit event's action, coloured by what kind of action it is."""
    return badge(ACTION_COLOURS.get(action, "grey"), label)


# -- links ----------------------------------------------------------------------------------------

# Ids that URLs and HTML leave as they are; any other id goes through reverse() every time.
PLAIN_ID = re.compile(r"[A-Za-z0-9_-]+")
STAND_IN_ID = "stand-in-id-0"


@lru_cache(maxsize=64)
def _url_around_stand_in(url_name: str, urlconf: str, script_prefix: str) -> str:
    return reverse(url_name, args=[STAND_IN_ID], urlconf=urlconf)


@register.simple_tag
def id_url(url_name: str, value: str) -> str:
    """reverse(url_name, args=[value]) for a recording's or a call's id, made fast for table rows.

    reverse() costs about 100 µs here, and a table row needs three URLs: the URL is made once
    around a stand-in id, and each plain id (letters, digits, - and _, as Vobiz's are) takes the
    stand-in's place. tests/test_templatetags.py checks it gives what reverse() gives.
    """
    if PLAIN_ID.fullmatch(value):
        urlconf = get_urlconf() or settings.ROOT_URLCONF
        return _url_around_stand_in(url_name, urlconf, get_script_prefix()).replace(STAND_IN_ID, value)
    return reverse(url_name, args=[value])


@register.simple_tag
def id_link(url_name: str, value: str) -> SafeString | str:
    """A link to a recording or a call showing the start of its long id, the whole id on hover."""
    if not value:
        return EMPTY
    return format_html('<a href="{}" title="{}">{}…</a>', id_url(url_name, value), value, short_id(value))


@register.filter
def epoch_ms(value):
    """Epoch milliseconds as Vobiz sends recording_start_ms / recording_end_ms, as an aware
    datetime (for `local_time`); None, or a number no calendar holds, is None."""
    if value in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=dt_timezone.utc)
    except (OverflowError, OSError, ValueError, TypeError):
        return None
