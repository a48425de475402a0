"""What the filter form above a table needs to lay itself out."""

from django import template
from django.forms import Form

register = template.Library()

NOT_FILTERS = ("q", "per_page", "sort", "page")


@register.simple_tag
def other_filters_in_force(form: Form) -> int:
    """How many filters besides the search are set, or in error: "More filters" opens for them."""
    if not form.is_bound:
        return 0
    return sum(
        1
        for name in form.fields
        if name not in NOT_FILTERS and (form.data.get(name, "") not in ("", None) or name in form.errors)
    )
