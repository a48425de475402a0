"""A table's view as its query string names it: the page's own (GET), or the `filter_query` a table
form posts for a bulk action (ZIP download, deletion). Read here, once: its filter, and the query
string that leads back to it."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.http import HttpRequest, HttpResponseRedirect, QueryDict
from django.urls import reverse

from recordings.browsing import listing
from recordings.browsing.filters import RecordingFilter, TableFilterSet, non_empty

EXPORT = "_export"  # asks for the view as CSV: how it is sent, not which rows it shows

Filter = TypeVar("Filter", bound=TableFilterSet, covariant=True)


@dataclass(frozen=True)
class FilteredView(Generic[Filter]):
    filterset: Filter
    query: str  # the view's query string, re-encoded (no stray characters) and without EXPORT

    def url(self, path: str) -> str:
        """The page at `path` showing this view."""
        return f"{path}?{self.query}" if self.query else path


def filtered_view(query: QueryDict | str, make_filter: Callable[[QueryDict], Filter]) -> FilteredView[Filter]:
    """The view `query` names, with the filter `make_filter` makes of it."""
    data = QueryDict(query) if isinstance(query, str) else query
    linked = non_empty(data)
    linked.pop(EXPORT, None)
    return FilteredView(make_filter(data), linked.urlencode())


def without_empty_filters(request: HttpRequest) -> HttpResponseRedirect | None:
    """The same page without the query's empty values, if it has any (a form submitted without
    its script sends every field): the view it shows, and every link on it, names only what is set."""
    if all(value for values in request.GET.lists() for value in values[1]):
        return None
    query = non_empty(request.GET).urlencode()
    return HttpResponseRedirect(f"{request.path}?{query}" if query else request.path)


def recordings_list_url(view: FilteredView[RecordingFilter]) -> str:
    """The recordings table showing `view`: where a bulk action leads back to."""
    return view.url(reverse("recordings:list"))


def recordings_view(query: QueryDict | str, *, auditor: bool) -> FilteredView[RecordingFilter]:
    """A view of the recordings table; `auditor` lets in the filters only auditors have."""
    return filtered_view(query, lambda data: RecordingFilter(data, queryset=listing.recordings(), auditor=auditor))
