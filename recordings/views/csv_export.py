"""A filtered view as CSV, or back to the view saying why it is too large to export."""

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect

from recordings.browsing import exports
from recordings.browsing.filters import TableFilterSet
from recordings.views.common import SignedInRequest, actor_of
from recordings.views.filtered_view import FilteredView


def export_csv(
    request: SignedInRequest,
    view: FilteredView[TableFilterSet],
    *,
    columns: list[str],
    filename: str,
    noun: str,
    back_to: str,
) -> HttpResponse | StreamingHttpResponse:
    try:
        return exports.export_table(
            actor=actor_of(request),
            queryset=view.filterset.qs,
            columns=columns,
            filename=filename,
            noun=noun,
            filter_query=view.query,
        )
    except exports.ExportTooLarge as refused:
        messages.error(request, str(refused))
        return redirect(view.url(back_to))
