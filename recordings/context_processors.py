from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from recordings.sync import status


def sync_status(request: HttpRequest) -> dict[str, SimpleLazyObject]:
    """The runs the sync status line shows (templates/recordings/_sync_strip.html), queried only
    if a template reads them."""
    if not request.user.is_authenticated:
        return {}
    return {"sync_status": SimpleLazyObject(status.sync_status)}
