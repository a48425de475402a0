"""A filtered view as CSV, or back to the view saying why it is too large to export."""

from django.contrib import messages
from django.db.models import Model, QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect

from recordings.browsing import exports
from recordings.views.common import SignedInRequest, actor_of


def export_csv(
    request: SignedInRequest,
    queryset: QuerySet[Model],
    *,
    columns: list[str],
    filename: str,
    noun: str,
    back_to: str,
) -> HttpResponse | StreamingHttpResponse:
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
