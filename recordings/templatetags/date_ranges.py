"""Today, Yesterday and Last 7 days as the filter form's quick ranges, in the viewer's zone."""

from django import template

from recordings.time_zones import DayRange
from recordings.time_zones import quick_ranges as ranges_today

register = template.Library()


@register.simple_tag
def quick_ranges() -> list[DayRange]:
    return ranges_today()
