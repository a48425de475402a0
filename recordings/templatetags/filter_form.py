"""What the filter form above a table needs to lay itself out, and the filters in force in words."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from typing import cast

import django_filters
from django import forms, template
from django.utils import timezone

from recordings.browsing.filters import TableFilterSet
from recordings.formatting import day_month_year

register = template.Library()


@register.simple_tag(takes_context=True)
def filter_form_state(context: template.Context, filterset: TableFilterSet) -> str:
    """Everything the filter form's HTML depends on, as the key of its cached copy: the page, its
    query but for the page number (every field's value and error comes from it), the fields the
    viewer's role gets, and the zone and day the quick date ranges are counted in."""
    request = context["request"]
    zone = getattr(request, "viewer_zone", None)
    return "|".join(
        (
            request.path,
            filterset.query_key(),
            ",".join(filterset.form.fields),
            zone.name if zone else "",
            timezone.localdate().isoformat(),
        )
    )


@register.simple_tag
def filter_form_cache(filterset: TableFilterSet) -> str:
    """Where to keep the form's HTML: with a free-text filter set, in the process's own bounded
    memory, never in a shared cache. Each search is a new key, Redis has no bound on entries of
    its own, and the HTML holds what was searched for (a number, words said)."""
    data = filterset.data
    typed = [name for name, field in filterset.filters.items() if isinstance(field, django_filters.CharFilter)]
    return "searched_fragments" if any(data.get(name) for name in typed) else "template_fragments"


@register.simple_tag
def other_filters_in_force(filterset: TableFilterSet) -> int:
    """How many filters besides those shown first are set, or in error: "More filters" opens for them."""
    form = filterset.form
    if not form.is_bound:
        return 0
    folded = [name for name in form.fields if name not in filterset.searched_first]
    return sum(1 for name in folded if form.data.get(name, "") not in ("", None) or name in form.errors)


@dataclass(frozen=True)
class FilterInWords:
    label: str  # as the form labels the field: "Added until"
    value: str  # as a person reads it: "30 Nov 2026", "Call"
    meaning: str  # the field's help text: what the bound includes


@register.simple_tag
def filters_in_words(filterset: TableFilterSet) -> list[FilterInWords]:
    """Each valid filter in force, labelled and valued as the form shows it: what a summary of the
    view restates (the table's, a deletion's confirmation)."""
    if not filterset.is_valid():
        return []
    form = filterset.form
    shown = []
    for name in filterset.base_filters:  # as declared: the words said are searched last, but shown second
        value = form.cleaned_data.get(name)
        if value in (None, ""):
            continue
        field = form.fields[name]
        if isinstance(field, forms.ChoiceField):
            # A ChoiceField keeps its choices normalised to (value, label) pairs; no filter groups them.
            choices = cast(Iterable[tuple[object, object]], field.choices)
            text = str(dict(choices).get(value, value))
        elif isinstance(value, date):
            text = day_month_year(value)
        elif isinstance(value, time):
            text = f"{value:%H:%M}"
        else:
            text = str(value)
        shown.append(FilterInWords(label=str(field.label), value=text, meaning=str(field.help_text or "")))
    return shown
