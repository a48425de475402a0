"""The recordings a bulk action (ZIP download, deletion) names, read from the posted table form."""

from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict

from recordings.browsing import listing
from recordings.browsing.filters import RecordingFilter
from recordings.browsing.listing import recordings_by_id
from recordings.models import Recording
from recordings.roles import is_auditor
from recordings.sync.normalise import is_path_safe

MAX_SELECTED = 10_000


def chosen_recordings(request: HttpRequest) -> tuple[QuerySet[Recording], RecordingFilter | None]:
    """Ticked rows (`selected`), or a whole filtered view (`scope=view` with the table's query
    string in `filter_query`): the recordings, and the filter when it was a view."""
    if request.POST.get("scope") == "view":
        filterset = view_filter(request.POST.get("filter_query", ""), auditor=is_auditor(request.user))
        return filterset.qs, filterset
    ids = [value for value in request.POST.getlist("selected") if value and is_path_safe(value)][:MAX_SELECTED]
    return recordings_by_id(recording_ids=ids), None


def view_filter(filter_query: str, *, auditor: bool) -> RecordingFilter:
    """The table's filter for a view named by its query string (as the table form posts it)."""
    return RecordingFilter(QueryDict(filter_query), queryset=listing.recordings(), auditor=auditor)
