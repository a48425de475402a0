"""What the recordings table asks while it is open: how many recordings arrived since it was drawn."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from .. import selectors
from ..filters import RecordingFilter
from ..roles import is_auditor, listener_required


@listener_required
@require_GET
def new_recordings(request):
    """The count of recordings in the table's view stored after the one given as `since` (a row id)."""
    try:
        since = int(request.GET.get("since", ""))
    except ValueError:
        return JsonResponse({"error": "since must be a whole number"}, status=400)
    filterset = RecordingFilter(request.GET, queryset=selectors.recordings(), auditor=is_auditor(request.user))
    return JsonResponse({"count": selectors.count_stored_after(filterset.qs, since=since)})
