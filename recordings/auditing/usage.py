"""Usage at a glance: what is still stored at Vobiz, and the geometry of its charts (recordings per
day, storage cost by month recorded). The figures are read from the totals and quarter hours the
database keeps as recordings change (recordings/usage_summary.py), each key's rows added
up (its folded row and the changes since the last fold): a few thousand rows and the changes of a
minute, however many recordings."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Case, F, IntegerField, Sum, Value, When
from django.utils import timezone

from recordings.models import Recording, TranscriptionSlot, UsageSlot, UsageTotal
from recordings.time_zones import start_of_local_day
from recordings.usage_summary import installed

PERIODS = (30, 90)
MONTHS_CHARTED = 12
MS_PER_HOUR = 3_600_000
OLDEST_SHOWN = 10


def period(value: str | None) -> int:
    """`?days=` as one of PERIODS; anything else is the first."""
    return next((days for days in PERIODS if str(days) == value), PERIODS[0])


@dataclass(frozen=True)
class Day:
    day: date
    count: int
    duration_ms: int

    @property
    def hours(self) -> float:
        return self.duration_ms / MS_PER_HOUR


Slots = type[UsageSlot] | type[TranscriptionSlot]


def sums_by_period(model: Slots, starts: Sequence[date], end: date, **sums: Sum) -> dict[int, dict[str, Any]]:
    """`sums` of the quarter hours of `model` in each period from the start of the local day
    starts[n] to that of the next start (of `end` for the last), by n; periods without any left
    out. Each slot's period is found by comparisons (a CASE), not by a function of its local time,
    which SQLite runs in Python for every row (35,000 slots in a year: 144 ms, against ~5 ms)."""
    bounds = [start_of_local_day(day) for day in (*starts, end)]
    period = Case(
        *(When(slot__lt=bound, then=Value(n)) for n, bound in enumerate(bounds[1:])), output_field=IntegerField()
    )
    rows = (
        model.objects.filter(slot__gte=bounds[0], slot__lt=bounds[-1])
        .annotate(period=period)
        .values("period")
        .annotate(**sums)
    )
    return {row["period"]: row for row in rows}


def per_day(days: int) -> list[Day]:
    """Recordings and their duration for each of the last `days` days up to today, days in the
    current time zone, with zeros for days without recordings."""
    today = timezone.localdate()
    dates = [today - timedelta(days=days - 1 - n) for n in range(days)]
    found = sums_by_period(
        UsageSlot, dates, today + timedelta(days=1), count=Sum("count"), duration_ms=Sum("duration_ms")
    )
    return [
        Day(day, found[n]["count"], found[n]["duration_ms"]) if n in found else Day(day, 0, 0)
        for n, day in enumerate(dates)
    ]


@dataclass(frozen=True)
class Month:
    month: date  # its first day; for the earlier bar, the first day of the first month charted
    count: int
    amount: Decimal  # what its recordings still at Vobiz cost a month now
    earlier: bool = False  # the recordings added before `month` (and any without an add_time)


def first_of_month(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def cost_by_month(months: int = MONTHS_CHARTED) -> list[Month]:
    """For each of the last `months` months up to this one (in the current time zone), the
    recordings added then that are still at Vobiz and what their storage costs a month now."""
    this_month = first_of_month(timezone.localdate())
    firsts = [first_of_month(this_month, months - 1 - n) for n in range(months)]
    found = sums_by_period(UsageSlot, firsts, first_of_month(this_month, -1), count=Sum("count"), amount=Sum("amount"))
    return [
        Month(month, found[n]["count"], found[n]["amount"]) if n in found else Month(month, 0, Decimal(0))
        for n, month in enumerate(firsts)
    ]


def totals_by(field: str) -> list[dict[str, Any]]:
    """Count and duration for each value of `field` (recording_type or recording_format), the most
    common first."""
    rows = (
        UsageTotal.objects.values(value=F(field))
        .annotate(n=Sum("count"), duration=Sum("duration_ms"))
        .filter(n__gt=0)
        .order_by("-n", "value")
    )
    return [{"value": row["value"], "count": row["n"], "duration_ms": row["duration"]} for row in rows]


def storage() -> dict[str, Any]:
    """The recordings still at Vobiz: how many, their duration, storage days and cost a month (None
    without any), and their average storage rate (None if none has one)."""
    sums = UsageTotal.objects.aggregate(
        count=Sum("count"),
        duration_ms=Sum("duration_ms"),
        storage_days=Sum("storage_days"),
        amount=Sum("amount"),
        rate_sum=Sum("rate_sum"),
        rate_count=Sum("rate_count"),
    )
    count = sums["count"] or 0
    rate_count = sums.pop("rate_count") or 0
    rate_sum = sums.pop("rate_sum")
    if not count:
        return {"count": 0, "duration_ms": None, "storage_days": None, "amount": None, "average_rate": None}
    return {**sums, "average_rate": rate_sum / rate_count if rate_count else None}


def oldest(limit: int = OLDEST_SHOWN) -> list[Recording]:
    return list(Recording.objects.present().exclude(add_time=None).order_by("add_time", "id")[:limit])


def overview(days: int) -> dict[str, object]:
    """Everything the usage page shows, for the last `days` days."""
    # Read before the figures: a first import's recount that ends between the two leaves the notice
    # of lagging figures on current ones once, never lagging figures without it.
    figures_kept = installed(connections[DEFAULT_DB_ALIAS])
    daily = per_day(days)
    recorded = sum(day.count for day in daily)  # at most 90 buckets already summed by the database
    monthly = cost_by_month()
    stored = storage()
    # The recordings added before the charted months: the all-time figures less theirs, so that
    # the bars add up to the all-time total without another query over the whole table.
    earlier = Month(
        monthly[0].month,
        (stored["count"] or 0) - sum(month.count for month in monthly),
        (stored["amount"] or Decimal(0)) - sum(month.amount for month in monthly),
        earlier=True,
    )
    charted = ([earlier] if earlier.count else []) + monthly
    return {
        "days": days,
        "time_zone": timezone.get_current_timezone_name(),
        "currency": settings.BILLING_CURRENCY,
        "periods": PERIODS,
        "daily": daily,
        "chart": daily_chart(daily) if recorded else None,
        "period_count": recorded,
        "period_duration_ms": sum(day.duration_ms for day in daily),
        "busiest": max(daily, key=lambda day: day.count),
        "breakdowns": {"type": totals_by("recording_type"), "format": totals_by("recording_format")},
        "storage": stored,
        "oldest": oldest(),
        "monthly": monthly,
        "earlier": earlier if earlier.count else None,
        "monthly_chart": monthly_chart(charted) if any(month.amount for month in charted) else None,
        "figures_kept": figures_kept,
    }


# ---------- chart geometry ----------


def nice_step(raw: float, whole: bool = False) -> float:
    """The smallest round step (1, 2, 2.5 or 5 × 10ⁿ) of at least `raw`; a whole number if `whole`."""
    if raw <= 0 or (whole and raw <= 1):
        return 1
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(s for s in (m * magnitude for m in (1, 2, 2.5, 5, 10)) if s >= raw and not (whole and s % 1))
    return int(step) if whole else step


@dataclass(frozen=True)
class Scale:
    intervals: int
    steps: list[float]  # one per axis


def shared_scale(maxima: list[tuple[float, bool]]) -> Scale:
    """Round steps for each axis over the same number of intervals, so they share gridlines; the
    number of intervals is the one that leaves the least empty space above the data. `maxima`:
    (largest value, whether steps are whole numbers) for each axis."""

    def scale(intervals: int) -> Scale:
        return Scale(intervals, [nice_step(top / intervals, whole) for top, whole in maxima])

    def fill(s: Scale) -> float:
        return sum(top / (step * s.intervals) for (top, _), step in zip(maxima, s.steps, strict=True))

    # Four gridlines first: max() keeps the first of equally good scales.
    return max((scale(n) for n in (4, 5, 3, 6, 2, 1)), key=fill)


@dataclass(frozen=True)
class Bar:
    item: Day | Month  # the item drawn
    x: float
    y: float
    width: float
    height: float
    band_x: float  # the item's whole column, which carries the tooltip
    band_width: float
    centre: float
    line_y: float | None  # the line's point, on a chart with a line
    labelled: bool  # the x axis names this item


@dataclass(frozen=True)
class Tick:
    y: float
    bar: str  # the left axis' value
    line: str  # the right axis' value, on a chart with a line


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    bars: list[Bar]
    ticks: list[Tick]
    line_points: str

    @property
    def plot_height(self) -> int:
        return self.bottom - self.top


def label_every(count: int, most: int = 8) -> int:
    """Name every item, every other, every week or every fortnight: at most `most` labels."""
    return next((step for step in (1, 2, 7, 14) if count / step <= most), math.ceil(count / most))


def tick_text(value: float, whole: bool = False) -> str:
    if whole:
        return str(int(value))
    return f"{round(value, 6):g}"  # rounded: 3 × 0.1 is 0.30000000000000004


Item = TypeVar("Item", Day, Month)
Measure = Callable[[Item], float | Decimal]


def column_chart(
    items: Sequence[Item],
    bar: Measure[Item],
    line: Measure[Item] | None = None,
    whole: bool = True,
    width: int = 1200,
    height: int = 300,
    margin: tuple[int, int, int, int] = (16, 64, 30, 48),
    most_labels: int = 8,
) -> Chart:
    """Bars of `bar(item)` for each item and, with `line`, a line of `line(item)` on a second axis,
    in SVG user units. `whole`: the bars count things. `margin` is (top, right, bottom, left), room
    for the line's axis, the labels and the bars' axis."""
    top, right, bottom, left = margin[0], width - margin[1], height - margin[2], margin[3]
    plot_height = bottom - top
    series = [bar] + ([line] if line else [])
    maxima = [(float(max(value(item) for item in items)), is_whole) for value, is_whole in zip(series, (whole, False))]
    scale = shared_scale(maxima)
    tops = [step * scale.intervals for step in scale.steps]
    band = (right - left) / len(items)
    bar_width = band * 0.7
    every = label_every(len(items), most_labels)

    def y(value: float | Decimal, scale_top: float) -> float:
        return round(bottom - float(value) / scale_top * plot_height, 1)

    bars = []
    for n, item in enumerate(items):
        band_x = left + n * band
        bar_y = y(bar(item), tops[0])
        bars.append(
            Bar(
                item=item,
                x=round(band_x + (band - bar_width) / 2, 1),
                y=bar_y,
                width=round(bar_width, 1),
                height=round(bottom - bar_y, 1),
                band_x=round(band_x, 1),
                band_width=round(band, 1),
                centre=round(band_x + band / 2, 1),
                line_y=y(line(item), tops[1]) if line else None,
                labelled=(len(items) - 1 - n) % every == 0,  # counted back from the last, so today is named
            )
        )
    ticks = [
        Tick(
            y=y(n * scale.steps[0], tops[0]),
            bar=tick_text(n * scale.steps[0], whole),
            line=tick_text(n * scale.steps[1]) if line else "",
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
        line_points=" ".join(f"{b.centre},{b.line_y}" for b in bars) if line else "",
    )


def daily_chart(daily: list[Day]) -> Chart:
    """Recordings per day as bars, hours recorded as a line."""
    return column_chart(daily, bar=lambda day: day.count, line=lambda day: day.hours)


def monthly_chart(monthly: list[Month]) -> Chart:
    """Storage cost a month by the month recorded, as bars; every month (and the earlier bar) named."""
    return column_chart(
        monthly, bar=lambda month: month.amount, whole=False, height=240, margin=(16, 16, 30, 64), most_labels=13
    )
