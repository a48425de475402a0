"""How every page shows a value: durations, moments, times, money, phone numbers, badges and links.

Plain functions, one place each: feature modules (tables, call facts, notes) call them, and the
template tags in recordings/templatetags register the same functions for templates. A new way of
showing a value belongs here, next to its neighbours.
"""

import re
from datetime import date, datetime
from datetime import timezone as dt_timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import phonenumbers
from babel.dates import get_timezone_name
from babel.numbers import format_currency, format_decimal, list_currencies
from django import template
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma, naturaltime
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.dates import MONTHS, MONTHS_3, WEEKDAYS_ABBR
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import to_locale

EMPTY = "–"  # what a missing value shows


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500] or type(exc).__name__


def babel_locale() -> str:
    """The pages' language as Babel names a locale: "en_IN" for en-in."""
    return to_locale(settings.LANGUAGE_CODE)


# -- durations ------------------------------------------------------------------------------------


def clock(seconds: int) -> str:
    """Whole seconds as a player's clock: 62 -> "1:02"; 4000 -> "1:06:40"."""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def duration(milliseconds: int | str | None) -> str:
    """7880 -> "0:08"; 4000000 -> "1:06:40"; None -> "–"."""
    if milliseconds is None or milliseconds == "":
        return EMPTY
    return clock(round(int(milliseconds) / 1000))


def hours_minutes(milliseconds: int | None) -> str:
    """Total listening time for a summary: "12 h 04 m", "7 m", "45 s"."""
    seconds = round((milliseconds or 0) / 1000)
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours:
        return f"{hours:,} h {minutes:02d} m"
    return f"{minutes} m" if minutes else f"{seconds} s"


# -- moments of a recording -----------------------------------------------------------------------

# Seconds, after minutes and hours if given, with a fraction: "83", "83.5", "1:23", "1:02:03".
MOMENT = re.compile(r"(?:(?:(\d{1,3}):)?(\d{1,4}):)?(\d{1,6})(?:\.(\d*))?")


def moment(milliseconds: int | str) -> str:
    """A position in a recording as its player shows it, in whole seconds gone by: 62500 -> "1:02"."""
    return clock(int(milliseconds) // 1000)


def moment_ms(text: str, *, finer_than_ms: bool = True) -> int | None:
    """A moment as people write it (a note's form, a link's `?t=`) in milliseconds: "83", "83.5",
    "1:23" or "1:02:03"; None for anything else. A fraction past milliseconds is cut off, or with
    `finer_than_ms=False` (a note's moment, stored to the millisecond) refused."""
    match = MOMENT.fullmatch(text.strip())
    if not match:
        return None
    hours, minutes, seconds, fraction = match.groups()
    if not finer_than_ms and len(fraction or "") > 3:
        return None
    whole_seconds = int(hours or 0) * 3600 + int(minutes or 0) * 60 + int(seconds)
    return whole_seconds * 1000 + int((fraction or "")[:3].ljust(3, "0"))


# -- times ----------------------------------------------------------------------------------------

TIME_STYLES = ("minute", "second", "day", "ago")


def day_month_year(value: date) -> str:
    return f"{value.day} {MONTHS_3[value.month].title()} {value.year}"


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


def calendar_month(value: date | None, style: str = "") -> str:
    """A month as plain text: "Dec 2026"; "long": "December 2026"."""
    if value is None or value == "":
        return EMPTY
    name = MONTHS[value.month] if style == "long" else MONTHS_3[value.month].title()
    return f"{name} {value.year}"


def ambiguous(value: datetime) -> bool:
    """A local time that happens twice (or never) as the clocks change: date_format names no zone."""
    return value.replace(fold=not value.fold).utcoffset() != value.utcoffset()


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
    # parsing was most of the cost, on every row of a table (tests/site/test_templatetags.py compares).
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


def utc_time(value: datetime) -> str:
    """A moment as plain text in UTC, to the second, for text kept as written (an audit note), which
    no reader's zone may shift: "1 Dec 2026 08:32:15 UTC"."""
    value = value.astimezone(dt_timezone.utc)
    return f"{day_month_year(value)} {value:%H:%M:%S} UTC"


def zone_name(name: str) -> str:
    """A time zone as people read it: "India Time" for Asia/Kolkata, "Eastern Time" for
    America/New_York (Babel's, from CLDR); "UTC" and other zones CLDR names no region for by
    their IANA name."""
    if not name:
        return EMPTY
    try:
        named = get_timezone_name(name, locale=babel_locale())
    except LookupError:
        named = ""
    if not named or named.startswith("Unknown"):
        return name.removeprefix("Etc/").replace("_", " ")
    return named


def epoch_ms(value: int | str | None) -> datetime | None:
    """Epoch milliseconds as Vobiz sends recording_start_ms / recording_end_ms, as an aware
    datetime (for `local_time`); None, or a number no calendar holds, is None."""
    if value is None or value == "":
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=dt_timezone.utc)
    except (OverflowError, OSError, ValueError, TypeError):
        return None


# -- sizes ----------------------------------------------------------------------------------------


def byte_size(size: int | None) -> str:
    """A file's size to the byte, as an auditor compares it: "1,234,567 bytes"; "–" when unknown."""
    if size is None:
        return EMPTY
    return f"{format_decimal(size, locale=babel_locale())} byte{'' if size == 1 else 's'}"


def count_up_to(count: int, limit: int) -> str:
    """A count read up to limit + 1 rows, as bounded counts are: "More than 10,000" past the limit,
    else the count."""
    if count > limit:
        return f"More than {intcomma(limit)}"
    return intcomma(count)


# -- money ----------------------------------------------------------------------------------------
# Amounts as people read them, "₹1,234.50", in the account's currency (BILLING_CURRENCY): Vobiz
# sends storage amounts and rates as bare numbers (`0.000000`), and the pages name the currency.

# Up to four decimals, for the fractions of a paisa or cent a single recording's storage costs.
PRECISE = "¤#,##0.00##"
KNOWN_CURRENCIES = frozenset(list_currencies())  # list_currencies() builds a new set on every call


def money(amount: Decimal | float | int | str | None, style: str = "") -> str:
    """`amount` in BILLING_CURRENCY: "₹1,234.50"; with "precise", up to four decimals ("₹0.0054").
    A missing amount is none ("–"): an unknown cost is not a free one."""
    return amount_in(amount, settings.BILLING_CURRENCY, precise=style == "precise")


def amount_in(amount: Decimal | float | int | str | None, currency: str, *, precise: bool = False) -> str:
    """`amount` in `currency` (an ISO code such as INR), as `money` shows it; "–" when missing.

    A code Babel does not know (a hostile or garbled field) follows the bare number, for the page
    to escape, rather than being passed off as a currency."""
    if amount is None or amount == "":
        return EMPTY
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return EMPTY
    if currency not in KNOWN_CURRENCIES:
        return f"{format_decimal(value, format='#,##0.00##', locale=babel_locale())} {currency}"
    if precise:
        return format_currency(value, currency, format=PRECISE, locale=babel_locale(), currency_digits=False)
    return format_currency(value, currency, locale=babel_locale())


# -- phone numbers --------------------------------------------------------------------------------


def phone(value: str | None) -> str | None:
    """A number in international format, `+91 98765 43210`, whichever way Vobiz wrote it; a number
    without its country code is read as one of PHONE_REGION's. What is not a phone number (a SIP
    address, "anonymous", None) comes back as it is."""
    if not value or not isinstance(value, str):
        return value
    return formatted_number(value, settings.PHONE_REGION, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_e164(value: str | None) -> str | None:
    """A number as a file (CSV) writes it, E.164: `+919876543210`, whichever way Vobiz wrote it.
    Only a valid number without an extension is rewritten: E.164 has no room for an extension, and
    a merely possible number could be read into one nobody dialled. Anything else comes back
    exactly as Vobiz sent it."""
    if not value or not isinstance(value, str):
        return value
    return valid_e164(value, settings.PHONE_REGION)


@lru_cache(maxsize=4096)
def valid_e164(value: str, region: str) -> str:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return value
    if number.extension or not phonenumbers.is_valid_number(number):
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# A page shows the same few numbers many times (a table of one customer's calls), and parsing
# one costs about 80 µs: 200 distinct numbers (a page of 100 rows) 17 ms, again from here 0.4 ms.
@lru_cache(maxsize=4096)
def formatted_number(value: str, region: str, style: int) -> str:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(number):
        return value
    return phonenumbers.format_number(number, style)


# -- short ids, badges and links ------------------------------------------------------------------


SHORT_ID_LENGTH = 8  # the characters of an id a table shows


def short_id(value: str | None, length: int = SHORT_ID_LENGTH) -> str:
    return value[:length] if value else ""


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
    "audio_changed": "red",
    "rule_set": "violet",
    "rule_approve": "violet",
    "retention_pause": "amber",
    "retention_run": "red",
    "dsr_open": "violet",
    "dsr_export": "grey",
    "dsr_approve": "red",
    "dsr_erase": "red",
    "dsr_close": "grey",
    "redact": "red",
    "retranscribed": "amber",  # a stored transcript replaced: worth a look
    "call_record": "violet",
    "share": "amber",
    "share_revoke": "grey",
    "share_open": "blue",
    "share_play": "blue",
    "remask": "violet",
}


def badge(kind: str, label: str | None = None, title: str = "") -> SafeString:
    """A coloured label; `kind` picks the colour and is the label unless one is given."""
    if title:
        return format_html('<span class="badge badge-{}" title="{}">{}</span>', kind, title, label or kind)
    return format_html('<span class="badge badge-{}">{}</span>', kind, label or kind)


def action_badge(action: str, label: str) -> SafeString:
    """An audit event's action, coloured by what kind of action it is."""
    return badge(ACTION_COLOURS.get(action, "grey"), label)


# Ids that URLs and HTML leave as they are; any other id goes through reverse() every time.
PLAIN_ID = re.compile(r"[A-Za-z0-9_-]+")
STAND_IN_ID = "stand-in-id-0"


@lru_cache(maxsize=64)
def _url_around_stand_in(url_name: str, urlconf: str, script_prefix: str) -> str:
    return reverse(url_name, args=[STAND_IN_ID], urlconf=urlconf)


def id_url(url_name: str, value: str) -> str:
    """reverse(url_name, args=[value]) for a recording's or a call's id, made fast for table rows.

    reverse() costs about 100 µs here, and a table row needs three URLs: the URL is made once
    around a stand-in id, and each plain id (letters, digits, - and _, as Vobiz's are) takes the
    stand-in's place. tests/site/test_templatetags.py checks it gives what reverse() gives.
    """
    if PLAIN_ID.fullmatch(value):
        urlconf = get_urlconf() or settings.ROOT_URLCONF
        return _url_around_stand_in(url_name, urlconf, get_script_prefix()).replace(STAND_IN_ID, value)
    return reverse(url_name, args=[value])


def id_link(url_name: str, value: str) -> SafeString | str:
    """A link to a recording or a call showing the start of its long id, the whole id on hover."""
    if not value:
        return EMPTY
    return format_html('<a href="{}" title="{}">{}…</a>', id_url(url_name, value), value, short_id(value))
