"""How many recordings a view holds, with their total duration and storage cost: exact up to a
bound, "more than" beyond it, and kept until the data changes (see freshness.data_version)."""

import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from hashlib import md5
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.db import connection
from django.db.models import Aggregate, Count, QuerySet, Sum
from django.utils import timezone

from recordings.browsing.freshness import data_version
from recordings.models import Recording


@dataclass
class Summary:
    count: int
    duration_ms: int | None
    exact: bool = True  # False: there are more than `count`, and the duration is not known yet
    storage_amount: Decimal | None = None  # what storing the view at Vobiz costs a month
    counted_at: datetime | None = None  # when an exact figure was counted
    version: str | None = None  # the data version it was counted in (freshness.data_version)
    # Beyond the bound: the view's last exact figures, shown with their time while `count_exactly`
    # counts again; counted in an earlier data version, or in this one before its entry lapsed.
    earlier: "Summary | None" = None

    @property
    def earlier_predates_changes(self) -> bool:
        """Whether the data changed since `earlier` was counted (not only its cache entry lapsed)."""
        return self.earlier is not None and self.earlier.version != self.version


def summary_totals() -> dict[str, Aggregate]:
    """What a view's summary adds up: all of it in the listing's covering index."""
    return {
        "count": Count("*"),
        "duration_ms": Sum("recording_duration_ms"),
        "storage_amount": Sum("monthly_recording_storage_amount"),
    }


SUMMARY_SECONDS = 300
# How long a view's last exact figures are kept, across data versions, to show while it is
# counted again: a count of ten million takes most of a second (docs/performance.md).
EARLIER_SECONDS = 24 * 3600
COUNT_BOUND = 10_000
TIME_OF_DAY_COUNT_BOUND = 1_000  # a filter no index serves: see RecordingFilter.count_bound
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
    version = data_version()
    key = summary_key(filters, version)
    bound = max(bound, min(at_least, MAX_COUNTED_ROWS))
    beyond_key = f"{key}:more-than:{bound}" if key else None
    last_key = earlier_key(filters)
    cached = cache.get_many([key, beyond_key, last_key]) if key else {}
    if exact := cached.get(key):
        return exact
    if beyond := cached.get(beyond_key):
        return replace(beyond, earlier=cached.get(last_key))
    totals = (
        queryset.order_by()
        .values("recording_duration_ms", "monthly_recording_storage_amount")[: bound + 1]
        .aggregate(**summary_totals())
    )
    if totals["count"] > bound:
        summary = Summary(count=bound, duration_ms=None, exact=False, version=version)
        if beyond_key:  # true until the data changes, as an exact count is
            cache.set(beyond_key, summary, SUMMARY_SECONDS)
        return replace(summary, earlier=cached.get(last_key))
    return remember(key, totals, version)


def count_exactly(queryset: QuerySet[Recording], *, filters: Mapping[str, str]) -> Summary:
    """The exact count and duration of a view, whatever its size; cached like `summarise`'s."""
    version = data_version()
    key = summary_key(filters, version)
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
    summary = remember(key, rows.aggregate(**summary_totals()), version)
    if key:
        cache.set(earlier_key(filters), summary, EARLIER_SECONDS)
    return summary


def summary_key(filters: Mapping[str, str], version: str | None) -> str | None:
    """The cache key of a view's figures in data version `version`; None before the first sync.
    Dates are days in the viewer's zone and "older than" counts from today, so both are in it."""
    if not version:
        return None
    return "summary:" + md5(f"{version}|{view_of(filters)}".encode(), usedforsecurity=False).hexdigest()


def earlier_key(filters: Mapping[str, str]) -> str:
    """The cache key of a view's last exact figures, whatever the data version."""
    return "summary-earlier:" + md5(view_of(filters).encode(), usedforsecurity=False).hexdigest()


def view_of(filters: Mapping[str, str]) -> str:
    days = f"{timezone.get_current_timezone_name()}|{timezone.localdate().isoformat()}"
    return f"{days}|{urlencode(sorted(filters.items()))}"


def remember(key: str | None, figures: dict[str, Any], version: str | None) -> Summary:
    """`figures` are raw aggregate values from the database, counted in data version `version`."""
    summary = Summary(
        count=figures["count"],
        duration_ms=figures["duration_ms"] or 0,
        storage_amount=figures["storage_amount"] or Decimal(0),
        counted_at=timezone.now(),
        version=version,
    )
    if key:
        cache.set(key, summary, SUMMARY_SECONDS)
    return summary
