"""Changes: what the pages do beyond reading the local copy (reads are in selectors.py)."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from . import selectors
from .models import CallDetail
from .vobiz import INTERACTIVE, VobizError, VobizNotFound, client_from_settings

logger = logging.getLogger(__name__)


@dataclass
class CallDetailResult:
    record: CallDetail | None = None
    problem: str = ""  # why there is no record, in words for the page


def call_detail(call_uuid: str, *, refresh: bool = False) -> CallDetailResult:
    """The call's CDR: from the local copy unless `refresh`, else from Vobiz (and then kept)."""
    if not refresh:
        cached = selectors.cached_call_detail(call_uuid=call_uuid)
        if cached is not None:
            return CallDetailResult(record=cached)
    if not settings.VOBIZ_AUTH_ID or not settings.VOBIZ_AUTH_TOKEN:
        return CallDetailResult(problem="Vobiz credentials are not configured, so the call record cannot be fetched.")
    try:
        with client_from_settings(INTERACTIVE) as client:
            data = client.get_cdr(call_uuid)
    except VobizNotFound:
        return CallDetailResult(
            problem="Vobiz has no call record for this call: it is unknown, or still in progress "
            "(a record exists only once the call has ended)."
        )
    except VobizError as exc:
        logger.warning("call record for %s not fetched: %s", call_uuid, exc)
        return CallDetailResult(problem=f"Vobiz could not be reached for the call record ({exc}). Try again shortly.")
    record, _ = CallDetail.objects.update_or_create(
        call_uuid=call_uuid, defaults={"data": data, "fetched_at": timezone.now()}
    )
    return CallDetailResult(record=record)
