"""The recordings a bulk action (ZIP download, deletion) names, read from the posted table form."""

from dataclasses import dataclass

from django.http import HttpRequest

from recordings.browsing.filters import RecordingFilter
from recordings.browsing.listing import recordings_by_id
from recordings.models import RecordingQuerySet
from recordings.roles import is_auditor
from recordings.sync.normalise import is_path_safe
from recordings.views.filtered_view import FilteredView, recordings_view

MAX_SELECTED = 10_000


@dataclass(frozen=True)
class Chosen:
    recordings: RecordingQuerySet
    view: FilteredView[RecordingFilter]  # the table's view the form was posted from
    whole_view: bool  # every recording of that view, rather than the ticked rows


def chosen_recordings(request: HttpRequest) -> Chosen:
    """Ticked rows (`selected`), or a whole filtered view (`scope=view`); either way the form
    posts the table's query string in `filter_query`, to go back to."""
    view = recordings_view(request.POST.get("filter_query", ""), auditor=is_auditor(request.user))
    if request.POST.get("scope") == "view":
        return Chosen(recordings=view.filterset.qs, view=view, whole_view=True)
    ids = [value for value in request.POST.getlist("selected") if value and is_path_safe(value)][:MAX_SELECTED]
    return Chosen(recordings=recordings_by_id(recording_ids=ids), view=view, whole_view=False)
