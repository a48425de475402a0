"""The time of day a recording was added, on the clock of the current time zone, for the filter
"between 14:00 and 18:00".

Each row is read with the offset in force at its own moment, so a zone's summer time is followed.
PostgreSQL converts each row itself (`AT TIME ZONE`). On SQLite, Django's conversion is a Python
function called for every row (about 16 µs each: a second for the bounded count of a view at a
million recordings); here SQLite's own `time()` shifts each row by its period's offset instead, the
periods between the zone's clock changes being worked out once per zone.
"""

import zoneinfo
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q
from django.db.models.functions import TruncTime
from django.db.models.lookups import GreaterThanOrEqual, LessThan
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

FIRST = datetime(1970, 1, 1, tzinfo=UTC)
STEP = timedelta(days=7)  # zones change their clock at most a few times a year, never twice a week


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@lru_cache(maxsize=64)
def offset_periods(zone_name: str, until_year: int) -> tuple[tuple[datetime, int], ...]:
    """The zone's offsets from UTC in minutes, each with the moment (UTC) from which it holds,
    newest first, from 1970 to the end of `until_year`."""
    zone = zoneinfo.ZoneInfo(zone_name)

    def offset(moment: datetime) -> timedelta:
        return moment.astimezone(zone).utcoffset() or timedelta(0)

    last = datetime(until_year + 1, 1, 1, tzinfo=UTC)
    periods = [(FIRST, offset(FIRST))]
    moment = FIRST
    while moment < last:
        step_end = min(moment + STEP, last)
        if offset(step_end) != periods[-1][1]:
            # The change is in (low, high]: its second, by halving (zones change on whole seconds).
            low, high = int(moment.timestamp()), int(step_end.timestamp())
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (low, middle) if offset(at(middle)) != periods[-1][1] else (middle, high)
            periods.append((at(high), offset(at(high))))
        moment = step_end
    return tuple((since, int(shift.total_seconds() // 60)) for since, shift in reversed(periods))


class LocalTime(TruncTime):
    """A datetime column's time of day in the current zone: Django's own but on SQLite."""

    def as_sqlite(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.lhs)
        periods = offset_periods(self.get_tzname() or "UTC", timezone.now().year + 1)
        # SQLite keeps an aware datetime as UTC text, "2026-03-29 01:00:00[.ffffff]": compared as text.
        branches, branch_params = [], []
        for since, minutes in periods[:-1]:
            branches.append(f"WHEN {sql} >= %s THEN time({sql}, %s)")
            branch_params += [*params, since.strftime("%Y-%m-%d %H:%M:%S"), *params, f"{minutes:+d} minutes"]
        otherwise = f"time({sql}, %s)"
        otherwise_params = [*params, f"{periods[-1][1]:+d} minutes"]
        if not branches:
            return otherwise, otherwise_params
        return f"(CASE {' '.join(branches)} ELSE {otherwise} END)", branch_params + otherwise_params


def time_of_day(start: time | None, end: time | None, field: str = "add_time") -> Q:
    """Rows whose `field` is at a time of day from `start` (included) until `end` (not included),
    on the current zone's clock. An `end` before `start` spans midnight."""
    local = LocalTime(field)
    if start is None:
        return Q(LessThan(local, end))
    if end is None:
        return Q(GreaterThanOrEqual(local, start))
    if start <= end:
        return Q(GreaterThanOrEqual(local, start)) & Q(LessThan(local, end))
    return Q(GreaterThanOrEqual(local, start)) | Q(LessThan(local, end))
