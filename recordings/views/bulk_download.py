from typing import cast

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from recordings import concurrency
from recordings.auditing import bulk_download
from recordings.browsing import exports
from recordings.browsing.filters import RecordingFilter
from recordings.browsing.media import StreamBody
from recordings.roles import auditor_required
from recordings.views.common import SignedInRequest, actor_of
from recordings.views.filtered_view import FilteredView, recordings_list_url
from recordings.views.selection import chosen_recordings


def back_to_list(request: HttpRequest, view: FilteredView[RecordingFilter], level: int, message: str) -> HttpResponse:
    messages.add_message(request, level, message)
    return redirect(recordings_list_url(view))


@auditor_required
@require_POST
def download_zip(request: SignedInRequest) -> HttpResponse | StreamingHttpResponse:
    chosen = chosen_recordings(request)
    recordings = chosen.recordings
    count = recordings.count()
    if not count:
        return back_to_list(
            request, chosen.view, messages.INFO, "No recordings were selected, so there is nothing to download."
        )
    if count > bulk_download.MAX_RECORDINGS:
        return back_to_list(
            request,
            chosen.view,
            messages.ERROR,
            f"A ZIP holds at most {bulk_download.MAX_RECORDINGS:,} recordings and {count:,} are selected. "
            "Narrow the filter and download them in parts.",
        )
    try:
        slot = concurrency.acquire("stream", request.user.pk, settings.STREAMS_PER_USER)
    except concurrency.TooMany as exc:
        return back_to_list(
            request,
            chosen.view,
            messages.ERROR,
            f"You have {exc.limit} audio streams or ZIP downloads open already; wait for one to finish.",
        )
    response = StreamingHttpResponse(
        StreamBody(
            bulk_download.zip_chunks(recordings, actor=actor_of(request), zone=timezone.get_current_timezone()),
            slot.release,
        ),
        content_type="application/zip",
    )
    name = f"recordings_{exports.file_stamp()}_{count}.zip"
    # As an attachment the header is always given: None is only for inline without a name.
    response["Content-Disposition"] = cast(str, content_disposition_header(True, name))
    response["Cache-Control"] = "no-store"
    return response
