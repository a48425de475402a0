"""A filtered view as CSV: logged (who, the filter, the row count) and capped at CSV_EXPORT_MAX_ROWS."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect

from recordings.auditing.trail import Action, record_for
from recordings.browsing.exports import csv_response
from recordings.views.common import requester


def export_csv(request, queryset, *, columns: list[str], filename: str, noun: str, back_to: str):
    limit = settings.CSV_EXPORT_MAX_ROWS
    rows = queryset.order_by()[: limit + 1].count()
    query = request.GET.copy()
    query.pop("_export", None)
    view = query.urlencode()
    if rows > limit:
        messages.error(
            request,
            f"This view holds more than {limit:,} rows, and a CSV export holds at most {limit:,}. "
            "Narrow the filter (dates, numbers, type) and export it in parts.",
        )
        return redirect(f"{back_to}?{view}" if view else back_to)
    rows_text = f"{rows:,} {noun}" + ("" if rows == 1 else "s")
    record_for(
        **requester(request),
        action=Action.TABLE_EXPORT,
        note=f"{rows_text}, " + (f"filtered by {view}" if view else "no filter"),
    )
    return csv_response(queryset, columns, filename)
