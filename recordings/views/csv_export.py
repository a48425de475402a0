"""A filtered view as CSV, or back to the view saying why it is too large to export."""

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from recordings.browsing import exports
from recordings.views.common import actor_of


def export_csv(
    request: HttpRequest, queryset: QuerySet, *, columns: list[str], filename: str, noun: str, back_to: str
) -> HttpResponse:
    query = request.GET.copy()
    query.pop("_export", None)
    filter_query = query.urlencode()
    try:
        return exports.export_table(
            actor=actor_of(request),
            queryset=queryset,
            columns=columns,
            filename=filename,
            noun=noun,
            filter_query=filter_query,
        )
    except exports.ExportTooLarge as refused:
        messages.error(request, str(refused))
        return redirect(f"{back_to}?{filter_query}" if filter_query else back_to)
