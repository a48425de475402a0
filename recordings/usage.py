"""Usage at a glance: what is still stored at Vobiz, read in a fixed handful of aggregate queries,
and the geometry of the recordings-per-day chart."""

import math
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Avg, Count, F, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import Recording
from .selectors import start_of_local_day

PERIODS = (30, 90)
MS_PER_HOUR = 3_600_000
OLDEST_SHOWN = 10


def period(value):
    """`?days=` as one of PERIODS; anything else is the first."""
    return next((days for days in PERIODS if str(days) == value), PERIODS[0])


@dataclass(frozen=True)
class Day:
    day: date
    count: int
    duration_ms: int

    @property
    def hours(self):
        return self.duration_ms / MS_PER_HOUR


def per_day(days):
    """Recordings and their duration for each of the last `days` days up to today, days in the
    current time zone, with zeros for days without recordings."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    rows = (
        Recording.objects.present()
        # A range on add_time itself, not on its date, so the add_time index answers it.
        .filter(add_time__gte=start_of_local_day(first), add_time__lt=start_of_local_day(today + timedelta(days=1)))
        .annotate(day=TruncDate("add_time", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(count=Count("id"), duration_ms=Sum("recording_duration_ms"))
    )
    found = {row["day"]: Day(row["day"], row["count"], row["duration_ms"] or 0) for row in rows}
    return [found.get(day, Day(day, 0, 0)) for day in (first + timedelta(days=n) for n in range(days))]


def totals_by(field):
    """Count and duration for each value of `field`, the most common first."""
    return list(
        Recording.objects.present()
        .values(value=F(field))
        .annotate(count=Count("id"), duration_ms=Sum("recording_duration_ms"))
        .order_by("-count", "value")
    )


def storage():
    return Recording.objects.present().aggregate(
        count=Count("id"),
        duration_ms=Sum("recording_duration_ms"),
        storage_days=Sum("recording_storage_duration"),
        amount=Sum("monthly_recording_storage_amount"),
        average_rate=Avg("recording_storage_rate"),
    )


def oldest(limit=OLDEST_SHOWN):
    return list(Recording.objects.present().exclude(add_time=None).order_by("add_time", "id")[:limit])


def overview(days):
    """Everything the usage page shows, for the last `days` days."""
    daily = per_day(days)
    recorded = sum(day.count for day in daily)  # at most 90 buckets already summed by the database
    return {
        "days": days,
        "time_zone": timezone.get_current_timezone_name(),
        "periods": PERIODS,
        "daily": daily,
        "chart": bar_chart(daily) if recorded else None,
        "period_count": recorded,
        "period_duration_ms": sum(day.duration_ms for day in daily),
        "busiest": max(daily, key=lambda day: day.count),
        "breakdowns": {"type": totals_by("recording_type"), "format": totals_by("recording_format")},
        "storage": storage(),
        "oldest": oldest(),
    }


# ---------- chart geometry ----------


def nice_step(raw, whole=False):
    """The smallest round step (1, 2, 2.5 or 5 × 10ⁿ) of at least `raw`; a whole number if `whole`."""
    if raw <= 0 or (whole and raw <= 1):
        return 1
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(s for s in (m * magnitude for m in (1, 2, 2.5, 5, 10)) if s >= raw and not (whole and s % 1))
    return int(step) if whole else step


@dataclass(frozen=True)
class Scale:
    intervals: int
    count_step: int
    hours_step: float

    @property
    def count_top(self):
        return self.count_step * self.intervals

    @property
    def hours_top(self):
        return self.hours_step * self.intervals


def shared_scale(max_count, max_hours):
    """Round steps for both axes over the same number of intervals, so they share gridlines;
    the number of intervals is the one that leaves the least empty space above the data."""

    def scale(intervals):
        return Scale(intervals, nice_step(max_count / intervals, whole=True), nice_step(max_hours / intervals))

    def fill(s):
        return max_count / s.count_top + max_hours / s.hours_top

    # Four gridlines first: max() keeps the first of equally good scales.
    return max((scale(n) for n in (4, 5, 3, 6, 2, 1)), key=fill)


@dataclass(frozen=True)
class Bar:
    day: Day
    x: float
    y: float
    width: float
    height: float
    band_x: float  # the day's whole column, which carries the tooltip
    band_width: float
    centre: float
    hours_y: float
    labelled: bool  # the x axis names this day


@dataclass(frozen=True)
class Tick:
    y: float
    count: int
    hours: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    bars: list
    ticks: list
    hours_points: str

    @property
    def plot_height(self):
        return self.bottom - self.top


def label_every(days, most=8):
    """Name every day, every other, every week or every fortnight: at most `most` labels."""
    return next((step for step in (1, 2, 7, 14) if days / step <= most), math.ceil(days / most))


def bar_chart(daily, width=1200, height=300, margin=(16, 64, 30, 48)):
    """Bars of recordings per day and a line of hours, in SVG user units. `margin` is
    (top, right, bottom, left), room for the hours axis, the dates and the count axis."""
    top, right, bottom, left = margin[0], width - margin[1], height - margin[2], margin[3]
    plot_height = bottom - top
    scale = shared_scale(max(day.count for day in daily), max(day.hours for day in daily))
    band = (right - left) / len(daily)
    bar_width = band * 0.7
    every = label_every(len(daily))

    def y(value, scale_top):
        return round(bottom - value / scale_top * plot_height, 1)

    bars = []
    for n, day in enumerate(daily):
        band_x = left + n * band
        bar_y = y(day.count, scale.count_top)
        bars.append(
            Bar(
                day=day,
                x=round(band_x + (band - bar_width) / 2, 1),
                y=bar_y,
                width=round(bar_width, 1),
                height=round(bottom - bar_y, 1),
                band_x=round(band_x, 1),
                band_width=round(band, 1),
                centre=round(band_x + band / 2, 1),
                hours_y=y(day.hours, scale.hours_top),
                labelled=(len(daily) - 1 - n) % every == 0,  # counted back from today, so today is named
            )
        )
    ticks = [
        Tick(
            y=y(n * scale.count_step, scale.count_top),
            count=n * scale.count_step,
            hours=f"{round(n * scale.hours_step, 6):g}",  # rounded: 3 × 0.1 is 0.30000000000000004
        )
        for n in range(scale.intervals + 1)
    ]
    return Chart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        bars=bars,
        ticks=ticks,
        hours_points=" ".join(f"{bar.centre},{bar.hours_y}" for bar in bars),
    )
