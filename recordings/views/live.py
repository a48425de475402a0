"""What the recordings table asks while it is open: how many recordings arrived since it was drawn."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET
from django_tables2 import RequestConfig

from recordings.browsing.freshness import count_new_above
from recordings.browsing.tables import RecordingTable
from recordings.roles import is_auditor, listener_required
from recordings.views.filtered_view import recordings_view


@listener_required
@require_GET
def new_recordings(request: HttpRequest) -> JsonResponse:
    """The count of recordings in the table's view stored after the one given as `since` (a row id)
    that its order puts above `first` (the id of the view's first row, when it had one)."""
    try:
        since = int(request.GET.get("since", ""))
        first = request.GET.get("first", "")
        first_shown = int(first) if first else None
    except ValueError:
        return JsonResponse({"error": "since and first must be whole numbers"}, status=400)
    filterset = recordings_view(request.GET, auditor=is_auditor(request.user)).filterset
    table = RecordingTable.of_view(filterset.qs, search=bool(filterset.transcript_search))
    RequestConfig(request, paginate=False).configure(table)  # sorted as the page is
    count = count_new_above(table.ordered_data, since=since, first_shown=first_shown)
    return JsonResponse({"count": count})
