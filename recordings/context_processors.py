from django.utils.functional import SimpleLazyObject

from . import selectors


def sync_status(request):
    """The sync status line, queried once per request and only if a template shows it.

    django-tables2 renders template cells with the page's context, which runs the context
    processors again for every cell: the result is kept on the request.
    """
    if not request.user.is_authenticated:
        return {}
    if not hasattr(request, "_sync_status"):
        request._sync_status = SimpleLazyObject(selectors.sync_status)
    return {"sync_status": request._sync_status}
