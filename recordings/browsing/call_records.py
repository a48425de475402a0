"""A call's detail record (CDR): asked of Vobiz when a call page needs it, and kept."""

import logging
from dataclasses import dataclass
from hashlib import md5

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from recordings.models import CallDetail, Recording
from recordings.vobiz_account import client_from_settings
from vobiz.client import INTERACTIVE, VobizError, VobizNotFound

logger = logging.getLogger(__name__)


@dataclass
class CallDetailResult:
    record: CallDetail | None = None
    problem: str = ""  # why there is no record, in words for the page


NO_CDR = (
    "Vobiz has no call record for this call: it is unknown, or still in progress "
    "(a record exists only once the call has ended)."
)


ERASED = (
    "A number of this call was erased for a data-subject request: its call record is not fetched from Vobiz "
    "again, as that would bring the number back. What is kept here has the number replaced by its keyed hash."
)


def not_found_key(call_uuid: str) -> str:
    return "cdr-not-found:" + md5(call_uuid.encode(), usedforsecurity=False).hexdigest()


def call_detail(call_uuid: str, *, refresh: bool = False) -> CallDetailResult:
    """The call's CDR: from the local copy unless `refresh`, else from Vobiz (and then kept); never
    from Vobiz for a call whose number was erased (its record would bring the number back).

    Vobiz's 404 is remembered for CDR_NOT_FOUND_SECONDS (asking again, or refreshing, in that
    time gets the same answer without a request), so page views of unknown calls cannot keep
    Vobiz busy."""
    if not refresh:
        cached = cached_call_detail(call_uuid=call_uuid)
        if cached is not None:
            return CallDetailResult(record=cached)
    if Recording.objects.filter(call_uuid=call_uuid).holding_erased_number().exists():
        return CallDetailResult(record=cached_call_detail(call_uuid=call_uuid), problem=ERASED)
    if not settings.VOBIZ_AUTH_ID or not settings.VOBIZ_AUTH_TOKEN:
        return CallDetailResult(problem="Vobiz credentials are not configured, so the call record cannot be fetched.")
    if cache.get(not_found_key(call_uuid)):
        return CallDetailResult(problem=NO_CDR + f" (Asked again at most every {settings.CDR_NOT_FOUND_SECONDS} s.)")
    try:
        with client_from_settings(INTERACTIVE) as client:
            data = client.get_cdr(call_uuid)
    except VobizNotFound:
        if settings.CDR_NOT_FOUND_SECONDS:
            cache.set(not_found_key(call_uuid), True, settings.CDR_NOT_FOUND_SECONDS)
        return CallDetailResult(problem=NO_CDR)
    except VobizError as exc:
        logger.warning("call record for %s not fetched: %s", call_uuid, exc)
        return CallDetailResult(problem=f"Vobiz could not be reached for the call record ({exc}). Try again shortly.")
    record, _ = CallDetail.objects.update_or_create(
        call_uuid=call_uuid, defaults={"data": data, "fetched_at": timezone.now()}
    )
    return CallDetailResult(record=record)


def cached_call_detail(*, call_uuid: str) -> CallDetail | None:
    """The call's CDR as last fetched from Vobiz, if it was."""
    return CallDetail.objects.filter(call_uuid=call_uuid).first()
