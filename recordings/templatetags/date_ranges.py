"""Today, Yesterday and Last 7 days as the filter form's quick ranges, in the viewer's zone."""

from dataclasses import dataclass

from django import template

from recordings.browsing.filters import TableFilterSet, non_empty
from recordings.time_zones import quick_ranges as ranges_today

register = template.Library()


@dataclass(frozen=True)
class QuickRange:
    label: str
    query: str  # the view's query with this range's days, from "?"
    current: bool  # the view shows exactly these days


@register.simple_tag(takes_context=True)
def quick_ranges(context: template.Context, filterset: TableFilterSet) -> list[QuickRange]:
    """The filterset's quick ranges (its `day_range` filters set to each), on its first page,
    without the filters a range replaces and without empty ones."""
    if filterset.day_range is None:
        return []
    first, last = filterset.day_range
    shown = context["request"].GET
    links = []
    for days in ranges_today():
        query = non_empty(shown)
        for name in ("page", *filterset.replaced_by_day_range):
            query.pop(name, None)
        query[first], query[last] = days.first.isoformat(), days.last.isoformat()
        current = shown.get(first) == query[first] and shown.get(last) == query[last]
        links.append(QuickRange(days.label, f"?{query.urlencode()}", current))
    return links
