"""Reads: the queries the pages make, in one place. Each takes plain values (keyword arguments
after the queryset it narrows) and returns a queryset or plain data; none sees a request."""

import logging
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from hashlib import md5
from urllib.parse import urlencode

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Exists, F, FloatField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.expressions import OrderBy, RawSQL, Value
from django.db.models.functions import Cast, StrIndex, Upper
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from .models import AuditEvent, CallDetail, LegalHold, Recording, SyncRun, Transcript

PHONE_QUERY = re.compile(r"^[\d\s+()./-]+$")
NATIONAL_DIGITS = 10  # an Indian number without its country code


@dataclass
class Summary:
    count: int
    duration_ms: int | None
    exact: bool = True  # False: there are more than `count`, and the duration is not known yet
    storage_amount: Decimal | None = None  # what storing the view at Vobiz costs a month


def summary_totals():
    """What a view's summary adds up: all of it in the listing's covering index."""
    return {
        "count": Count("*"),
        "duration_ms": Sum("recording_duration_ms"),
        "storage_amount": Sum("monthly_recording_storage_amount"),
    }


def recordings() -> QuerySet[Recording]:
    return Recording.objects.all()


def start_of_local_day(day: date) -> datetime:
    """The first moment of `day` in the configured time zone: where "added from" a day starts."""
    return timezone.make_aware(datetime.combine(day, time.min))


def number_digits_query(typed: str) -> str:
    """The reversed digits to prefix-match for a number as someone typed or read it out.

    "+91 98765 43210", "919876543210", "09876543210" and "9876543210" all mean the same line, and
    "3210" is the last digits a customer reads out: all become "ends with these digits", at most
    the national part, so the country code may be there or not.
    """
    digits = re.sub(r"\D", "", typed).lstrip("0")
    return digits[-NATIONAL_DIGITS:][::-1]


def matching_number(field_prefix: str, typed: str) -> Q:
    """Numbers ending with the digits of `typed`, as a range on the reversed digits.

    A range rather than LIKE 'prefix%': SQLite never uses an index for Django's LIKE … ESCAPE,
    and PostgreSQL only with a pattern-ops index. Digits only, so "next prefix" is well defined.
    """
    reversed_digits = number_digits_query(typed)
    if not reversed_digits:
        return Q(pk__in=[])
    field = f"{field_prefix}_digits_reversed"
    query = Q(**{f"{field}__gte": reversed_digits})
    upper = next_prefix(reversed_digits)
    return query & Q(**{f"{field}__lt": upper}) if upper else query


def next_prefix(digits: str) -> str:
    """The smallest digit string after every string starting with `digits`: "4329" -> "433"."""
    stripped = digits.rstrip("9")
    if not stripped:
        return ""  # all nines: nothing sorts after them among digit strings
    return stripped[:-1] + str(int(stripped[-1]) + 1)


def search(queryset: QuerySet[Recording], *, text: str) -> QuerySet[Recording]:
    """The recordings a search box's text means: a number (whole or its last digits), else a
    recording id or the start of a call or recording id, else part of a conference name."""
    text = text.strip()
    if not text:
        return queryset
    if PHONE_QUERY.match(text) and sum(c.isdigit() for c in text) >= 3:
        return queryset.filter(matching_number("from", text) | matching_number("to", text))
    ids = Q(recording_id=text) | starts_with("call_uuid", text) | starts_with("recording_id", text)
    if queryset.filter(ids).exists():
        return queryset.filter(ids)
    # Only then a conference name: a substring, which a trigram index serves.
    return queryset.filter(conference_name_contains(text))


# SQLite's trigram index of conference names and the triggers that keep it up to date, made by
# migration 0007_conference_name_search. PostgreSQL's is a plain index: nothing to name here.
CONFERENCE_FTS_TABLE = "recordings_conference_fts"
CONFERENCE_FTS_OBJECTS = (
    CONFERENCE_FTS_TABLE,
    "recordings_conference_fts_ai",
    "recordings_conference_fts_au",
    "recordings_conference_fts_ad",
)
TRIGRAM = 3
TRIGRAM_WORD = re.compile(r"[^\W_]{3}")  # three letters or digits in a row: pg_trgm finds a trigram in them


def conference_name_contains(text: str) -> Q | GreaterThan:
    """Conference names containing `text`, ignoring case: the same rows as `icontains`, sooner.

    PostgreSQL: `icontains` compiles to UPPER("conference_name"::text) LIKE UPPER('%text%'), the
    expression of the trigram index rec_conference_trgm_idx (a scan where pg_trgm was unavailable).
    pg_trgm takes trigrams from the words of a pattern (letters and digits); with none, as in "qa",
    the index is read whole and every row checked, slower than the scan (1.1-5.9 s against 0.9 s at
    1M rows), and the planner cannot tell: text with no three letters or digits in a row gets the
    same test in a form the index does not serve, STRPOS(UPPER(name), UPPER(text)) > 0.
    SQLite: the FTS5 trigram table names the candidates, the names holding the text's trigrams in a
    row (the phrase "text": its case folding is broader than LIKE's, never narrower), and the LIKE
    of `icontains` keeps exactly the rows it kept before. Text shorter than a trigram: a scan.
    """
    contains = Q(conference_name__icontains=text)
    if connection.vendor == "postgresql" and not TRIGRAM_WORD.search(text):
        return GreaterThan(StrIndex(Upper("conference_name"), Upper(Value(text))), 0)
    if connection.vendor != "sqlite" or len(text) < TRIGRAM or not sqlite_conference_index():
        return contains
    phrase = '"' + text.replace('"', '""') + '"'  # a string: no FTS5 query syntax in the text
    candidates = RawSQL(f"SELECT rowid FROM {CONFERENCE_FTS_TABLE} WHERE {CONFERENCE_FTS_TABLE} MATCH %s", [phrase])
    return Q(pk__in=candidates) & contains


_missing_index_logged = False


def sqlite_conference_index() -> bool:
    """Whether the FTS table and all its triggers exist: without a trigger it would miss names.

    One look at sqlite_master (microseconds). The migration skips them on a SQLite without the
    trigram tokenizer, and a later migration that rebuilds recordings_recording drops the triggers.
    """
    global _missing_index_logged
    present = sqlite_objects_exist(CONFERENCE_FTS_OBJECTS)
    if not present and not _missing_index_logged:
        _missing_index_logged = True
        logging.getLogger(__name__).warning(
            "The conference name index (%s and its triggers) is missing or incomplete: searching by scan. "
            "See recordings/migrations/0007_conference_name_search.py.",
            CONFERENCE_FTS_TABLE,
        )
    return present


def sqlite_objects_exist(names: tuple[str, ...]) -> bool:
    """Whether every one of these SQLite tables and triggers exists: one look at sqlite_master."""
    with connection.cursor() as cursor:
        placeholders = ", ".join(["%s"] * len(names))
        cursor.execute(f"SELECT count(*) FROM sqlite_master WHERE name IN ({placeholders})", names)
        return cursor.fetchone()[0] == len(names)


def starts_with(field: str, text: str) -> Q:
    """A prefix match an index answers: SQLite never uses one for Django's LIKE … ESCAPE, so there
    a range on the column's binary order; PostgreSQL has a pattern-ops index for LIKE."""
    if connection.vendor == "sqlite":
        return Q(**{f"{field}__gte": text, f"{field}__lt": text + "\U0010ffff"})
    return Q(**{f"{field}__startswith": text})


SUMMARY_SECONDS = 300
COUNT_BOUND = 10_000
# A page far down a view counts the rows up to it, so a URL asking for page 999999 would count the
# whole view: a page counts no further than this (beyond it, it says "more than").
MAX_COUNTED_ROWS = 100_000


def summarise(
    queryset: QuerySet[Recording], *, filters: Mapping[str, str], at_least: int = 0, bound: int = COUNT_BOUND
) -> Summary:
    """Count and total duration of a filtered view, or a lower bound when it holds more than that.

    An exact count of a view over most of a million rows is a full scan, too slow to wait for on
    every page. So a page counts at most COUNT_BOUND rows (or as far as the page it shows, so that
    its page exists and a next page is offered): up to there the figure is exact, beyond it the
    page says "more than" and asks `count_exactly` separately. Both are cached until the data
    changes, so repeat views and page turns show them at once. `filters` are the ones in force, as
    text: the cache key. A view whose every row costs a join (a transcript search) counts to a
    lower `bound`.
    """
    key = summary_key(filters)
    bound = max(bound, min(at_least, MAX_COUNTED_ROWS))
    beyond_key = f"{key}:more-than:{bound}" if key else None
    if key:
        cached = cache.get_many([key, beyond_key])
        if summary := cached.get(key) or cached.get(beyond_key):
            return summary
    totals = (
        queryset.order_by()
        .values("recording_duration_ms", "monthly_recording_storage_amount")[: bound + 1]
        .aggregate(**summary_totals())
    )
    if totals["count"] > bound:
        summary = Summary(count=bound, duration_ms=None, exact=False)
        if beyond_key:  # true until the data changes, as an exact count is
            cache.set(beyond_key, summary, SUMMARY_SECONDS)
        return summary
    return remember(key, totals)


def count_exactly(queryset: QuerySet[Recording], *, filters: Mapping[str, str]) -> Summary:
    """The exact count and duration of a view, whatever its size; cached like `summarise`'s."""
    key = summary_key(filters)
    summary = cache.get(key) if key else None
    if summary is not None and summary.exact:
        return summary
    rows = queryset.order_by()
    if connection.vendor == "sqlite":
        # SQLite's planner counts the present recordings with a table scan (350 ms at a million)
        # where the listing's partial covering index takes 70: rows taken in the index's order,
        # in a subquery (a slice keeps its ORDER BY), walk that index; a narrower filter's own
        # index still wins. PostgreSQL picks the covering index by itself.
        rows = queryset.order_by("-add_time", "-id")[: sys.maxsize]
    return remember(key, rows.aggregate(**summary_totals()))


def summary_key(filters: Mapping[str, str]) -> str | None:
    """The cache key of a view's figures in the current data version; None before the first sync.
    Dates are days in the viewer's zone and "older than" counts from today, so both are in it."""
    version = data_version()
    if not version:
        return None
    view = urlencode(sorted(filters.items()))
    days = f"{timezone.get_current_timezone_name()}|{timezone.localdate().isoformat()}"
    return "summary:" + md5(f"{version}|{days}|{view}".encode(), usedforsecurity=False).hexdigest()


def remember(key: str | None, figures: dict) -> Summary:
    summary = Summary(
        count=figures["count"],
        duration_ms=figures["duration_ms"] or 0,
        storage_amount=figures["storage_amount"] or Decimal(0),
    )
    if key:
        cache.set(key, summary, SUMMARY_SECONDS)
    return summary


# What an auditor does that changes which rows a filter shows (a hold: the Legal hold filter's).
CHANGING_ACTIONS = [
    AuditEvent.Action.REVIEW,
    AuditEvent.Action.FLAG,
    AuditEvent.Action.CLEAR_REVIEW,
    AuditEvent.Action.DELETE,
    AuditEvent.Action.HOLD,
    AuditEvent.Action.RELEASE,
]


def data_version() -> str | None:
    """Changes whenever the rows a count sees may have: a sync stored a page, a callback stored a
    recording or a transcript, or an auditor acted.

    One query; each action's latest event is its own index lookup (audit_action_idx), so the
    plays and downloads that fill the log are never scanned; the newest recording and transcript
    are the last entries of their primary keys. Written out once (`data_version_sql`): built by
    the ORM on every page it took 2.4 ms, of a table page's 25.
    """
    with connection.cursor() as cursor:
        cursor.execute(data_version_sql(), CHANGING_ACTIONS)
        row = cursor.fetchone()
    return repr(row) if row else None  # no sync yet: rows that came another way, so no caching


@lru_cache(maxsize=1)
def data_version_sql() -> str:
    quote = connection.ops.quote_name

    def latest(model, order, where=""):
        return f"(SELECT {quote('id')} FROM {quote(model._meta.db_table)}{where} ORDER BY {order} DESC LIMIT 1)"

    events = [latest(AuditEvent, quote("at"), f" WHERE {quote('action')} = %s") for _ in CHANGING_ACTIONS]
    newest = [latest(Recording, quote("id")), latest(Transcript, quote("id"))]
    columns = ", ".join([quote("id"), quote("pages"), quote("gone"), *events, *newest])
    return f"SELECT {columns} FROM {quote(SyncRun._meta.db_table)} ORDER BY {quote('started_at')} DESC LIMIT 1"


NEW_COUNT_BOUND = 100  # "more than 99 new" says enough


def newest_stored() -> int:
    """The id of the latest recording stored: the table asks what came after it (`count_new_above`)."""
    return Recording.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def first_row_and_newest_stored(queryset: QuerySet[Recording]) -> tuple[int | None, int]:
    """The id of a view's first row (None when it is empty) and `newest_stored()`, in one query."""
    newest = Subquery(Recording.objects.order_by("-pk").values("pk")[:1])
    row = queryset.annotate(newest_stored=newest).values_list("pk", "newest_stored").first()
    return row if row is not None else (None, newest_stored())


def count_new_above(queryset: QuerySet[Recording], *, since: int, first_shown: int | None) -> int:
    """How many of a view's recordings were stored after row `since` and come before its row
    `first_shown` in the view's order (what reloading it puts above the rows it showed), up to
    NEW_COUNT_BOUND. A recording stored late with an old add_time (a restore, a sync filling in
    the past) lands further down, and is not new to the reader.

    Cheap however large the view: the rows stored after `since` are a few at the end of the
    primary key, and the first row shown is read by its key.
    """
    above = queryset if first_shown is None else ahead_of_row(queryset, pk=first_shown)
    return above.filter(pk__gt=since).order_by().values("pk")[:NEW_COUNT_BOUND].count()


def ahead_of_row(queryset: QuerySet[Recording], *, pk: int) -> QuerySet[Recording]:
    """The rows of `queryset` that its order puts before row `pk`, NULLs where the database sorts
    them; all of them if that row has left the view (nothing to place them against)."""
    ordering = queryset.query.order_by or (queryset.model._meta.ordering if queryset.query.default_ordering else ())
    keys = [sort_key(item) for item in ordering]
    names = {f"sort_key_{i}": expression for i, (expression, _, _) in enumerate(keys)}
    # A float (a transcript's rank is PostgreSQL's real) is read and compared as double precision:
    # a real read back as a parameter is not equal to itself, and ties would be lost.
    resolved = queryset.annotate(**names).query.annotations
    names = {
        name: Cast(expression, FloatField()) if isinstance(resolved[name].output_field, FloatField) else expression
        for name, expression in names.items()
    }
    keyed = queryset.annotate(**names)
    anchor = keyed.filter(pk=pk).values(*names).first()
    if anchor is None:
        return queryset
    ahead, ties = Q(pk__in=[]), Q()
    for name, (_, descending, nulls_first) in zip(names, keys):
        value = anchor[name]
        if value is None:
            before = Q(pk__in=[]) if nulls_first else Q(**{f"{name}__isnull": False})
            equal = Q(**{f"{name}__isnull": True})
        else:
            before = Q(**{f"{name}__{'gt' if descending else 'lt'}": value})
            if nulls_first:
                before |= Q(**{f"{name}__isnull": True})
            equal = Q(**{name: value})
        ahead |= ties & before
        ties &= equal
    return keyed.filter(ahead)


def sort_key(item) -> tuple:
    """(expression, descending, NULLs first) of one item of a queryset's order_by."""
    if isinstance(item, str):
        expression, descending, nulls_first, nulls_last = F(item.lstrip("-")), item.startswith("-"), None, None
    elif isinstance(item, OrderBy):
        expression, descending = item.expression, item.descending
        nulls_first, nulls_last = item.nulls_first, item.nulls_last
    else:
        expression, descending, nulls_first, nulls_last = item, False, None, None
    if not (nulls_first or nulls_last):
        # PostgreSQL sorts NULL above every value, SQLite below.
        nulls_first = descending == (connection.vendor == "postgresql")
    return expression, descending, bool(nulls_first)


def with_hold_marks(queryset: QuerySet[Recording]) -> QuerySet[Recording]:
    """Each row's `on_hold`: whether an active hold covers it or its call (within the same query)."""
    return queryset.annotate(on_hold=Exists(LegalHold.objects.covering_row()))


def with_masked_marks(queryset: QuerySet[Recording]) -> QuerySet[Recording]:
    """Each row's `transcript_masked`: whether its transcript had payment or identity data masked
    (None without a transcript), within the same query.

    A value read by the transcript's unique key, once per row shown: PostgreSQL would answer an
    EXISTS by hashing every masked transcript first, a cost that grows with the table."""
    masked = Transcript.objects.filter(recording_id=OuterRef("recording_id")).values("masked")[:1]
    return queryset.annotate(transcript_masked=Subquery(masked))


def recordings_of_call(*, call_uuid: str) -> QuerySet[Recording]:
    return Recording.objects.filter(call_uuid=call_uuid).order_by("add_time", "id")


def recordings_by_id(*, recording_ids: list[str]) -> QuerySet[Recording]:
    return Recording.objects.filter(recording_id__in=recording_ids)


def cached_call_detail(*, call_uuid: str) -> CallDetail | None:
    """The call's CDR as last fetched from Vobiz, if it was."""
    return CallDetail.objects.filter(call_uuid=call_uuid).first()


def sync_status() -> dict[str, SyncRun | None]:
    """The last run of any kind and the last successful one (the same run, most of the time)."""
    last_run = SyncRun.objects.order_by("-started_at").first()
    if last_run is None or last_run.status == SyncRun.Status.SUCCEEDED:
        return {"last_run": last_run, "last_success": last_run}
    last_success = SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).order_by("-started_at").first()
    return {"last_run": last_run, "last_success": last_success}
