from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from recordings.requests import selectors
from recordings.roles import is_auditor
from recordings.sync import status


def sync_status(request: HttpRequest) -> dict[str, SimpleLazyObject]:
    """The runs the sync status line shows (templates/recordings/_sync_strip.html), queried only
    if a template reads them."""
    if not request.user.is_authenticated:
        return {}
    return {"sync_status": SimpleLazyObject(status.sync_status)}


def overdue_requests(request: HttpRequest) -> dict[str, SimpleLazyObject]:
    """How many data-subject requests are past their due date, for auditors' top strip
    (templates/recordings/_requests_strip.html); counted only if a template reads it."""
    if not is_auditor(request.user):
        return {}
    return {"overdue_requests": SimpleLazyObject(selectors.overdue_count)}
