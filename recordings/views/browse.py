import logging
from typing import cast

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods
from django_tables2 import RequestConfig

from recordings import concurrency
from recordings.audit_trail import Action, record_listening
from recordings.auditing import audio_hashes
from recordings.auditing.holds import active_call_hold, active_hold
from recordings.background.tasks import (
    AlreadyQueued,
    RefreshBusy,
    TooManyRefreshes,
    UnknownCall,
    call_record_refresh,
    queue_rows,
    request_call_record_refresh,
)
from recordings.browsing import call_records, counting, freshness, media, saved_views, transcript_search
from recordings.browsing import search as browsing_search
from recordings.browsing.call_facts import call_facts
from recordings.browsing.exports import RECORDING_COLUMNS
from recordings.browsing.listing import recordings_of_call, with_hold_marks, with_masked_marks
from recordings.browsing.tables import AuditEventTable, CountedPaginator, RecordingTable, SyncRunTable, TableOptionsForm
from recordings.formatting import moment_ms
from recordings.forms import ShareLinkForm
from recordings.models import AudioHash, Recording, TaskRun, Transcript
from recordings.retention import rules as retention_rules
from recordings.retention import runs as retention_runs
from recordings.review.notes import notes_by_recording
from recordings.roles import can_share, is_auditor, listener_required
from recordings.sharing.links import links_of
from recordings.sync.status import lock_holder, runs, slow_searches, unread_count
from recordings.views.common import SignedInRequest, actor_of
from recordings.views.csv_export import export_csv
from recordings.views.filtered_view import EXPORT, recordings_view, without_empty_filters
from recordings.vobiz_account import client_from_settings
from vobiz.client import INTERACTIVE, VobizError

logger = logging.getLogger(__name__)


@listener_required
@require_GET
def recording_list(request: SignedInRequest) -> HttpResponse | StreamingHttpResponse:
    if tidied := without_empty_filters(request):
        return tidied
    auditor = is_auditor(request.user)
    view = recordings_view(request.GET, auditor=auditor)
    filterset = view.filterset
    queryset = filterset.qs
    if request.GET.get(EXPORT) == "csv":
        return export_csv(
            request,
            view,
            columns=RECORDING_COLUMNS,
            filename="recordings",
            noun="recording",
            back_to=reverse("recordings:list"),
        )
    options = filterset.table_options
    search = filterset.transcript_search
    summary = counting.summarise(
        filterset.counted_qs,
        filters=filterset.filters_in_force(),
        at_least=options.page * options.per_page,
        bound=filterset.count_bound,
    )
    if browsing_search.reads_matches_first(
        by_substring=filterset.substring_search,
        ranked=bool(search),
        known_few=summary.exact and summary.count <= counting.COUNT_BOUND,
    ):
        queryset = browsing_search.matches_first(queryset)
    excluded = () if auditor else RecordingTable.AUDITOR_COLUMNS
    table = RecordingTable.of_view(
        with_masked_marks(with_hold_marks(queryset)) if auditor else queryset,
        search=bool(search),
        exclude=excluded if search else excluded + RecordingTable.SEARCH_COLUMNS,
    )
    RequestConfig(request, paginate=options.paginate(CountedPaginator, summary=summary)).configure(table)
    hold = filterset.form.cleaned_data.get("hold") if auditor else None
    return render(
        request,
        "recordings/recording_list.html",
        {
            "filter": filterset,
            "table": table,
            "summary": summary,
            "database_empty": summary.count == 0 and not Recording.objects.exists(),
            **live_anchors(table),
            "is_auditor": auditor,
            "all_on_hold": auditor and view_is_all_on_hold(hold=hold, summary=summary, table=table),
            # How a transcript search is ordered, unless a column is sorted on.
            "transcripts_best_first": search.best_first if search and not table.order_by else None,
            "ranked_matches": transcript_search.RANKED_MATCHES,
            "saved_views": saved_views.visible_to(request.user),
            "view_query": saved_views.kept_query(request.GET.urlencode()),
        },
    )


def live_anchors(table: RecordingTable) -> dict[str, int | None]:
    """What live.js asks about (see views/live.py): the latest recording stored, and the view's
    first row, above which new ones would come. On the first page that row is at hand; on
    another, one query reads both."""
    if table.page.number == 1:
        records = table.page_records
        return {"newest_stored": freshness.newest_stored(), "first_shown": records[0].pk if records else None}
    first_shown, newest = freshness.first_row_and_newest_stored(table.ordered_data)
    return {"newest_stored": newest, "first_shown": first_shown}


def view_is_all_on_hold(*, hold: str | None, summary: counting.Summary, table: RecordingTable) -> bool:
    """Whether every recording of the view is known to be on hold without another query: the
    view is filtered to held ones, or it fits on the page shown and every row there is held.
    A larger view could only tell by counting its held rows: it keeps its Delete, whose
    confirmation says how many are on hold."""
    if hold == "held":
        return True
    records = table.page_records
    # on_hold: the annotation with_hold_marks adds, which QuerySet[Recording] does not name.
    return summary.exact and summary.count == len(records) > 0 and all(record.on_hold for record in records)  # type: ignore[attr-defined]


@listener_required
@require_GET
def recording_count(request: SignedInRequest) -> JsonResponse:
    """The exact count of a view whose page showed only "more than N": asked by the page's script."""
    filterset = recordings_view(request.GET, auditor=is_auditor(request.user)).filterset
    try:  # a count of a whole view scans it: one at a time per user
        slot = concurrency.acquire("count", request.user.pk, 1)
    except concurrency.TooMany:
        return JsonResponse({"count": None, "error": "another count of yours is running"}, status=429)
    try:
        summary = counting.count_exactly(filterset.counted_qs, filters=filterset.filters_in_force())
    finally:
        slot.release()
    return JsonResponse(
        {
            "count": summary.count,
            "html": render_to_string("recordings/_summary.html", {"summary": summary}, request),
        }
    )


HISTORY_LENGTH = 50  # the latest events on a recording's page; the audit log has them all


@listener_required
@require_GET
def recording_detail(request: SignedInRequest, recording_id: str) -> HttpResponse:
    recording = get_object_or_404(Recording, recording_id=recording_id)
    start = (moment_ms(request.GET.get("t", "")) or 0) // 1000  # ?t=83 or ?t=1:23: whole seconds
    siblings: QuerySet[Recording] | list[Recording] = []
    if recording.call_uuid:
        siblings = recordings_of_call(call_uuid=recording.call_uuid).exclude(pk=recording.pk)
    # Who listened is for auditors' eyes only; support never gets the events at all.
    history = None
    auditor = is_auditor(request.user)
    if auditor:
        history = AuditEventTable(
            recording.events.all()[:HISTORY_LENGTH],
            exclude=("recording", "call_uuid", "user_agent"),
            orderable=False,
            empty_text="Nothing is logged for this recording yet.",
        )
    transcript = Transcript.objects.filter(recording_id=recording.recording_id).first()
    return render(
        request,
        "recordings/recording_detail.html",
        {
            "recording": recording,
            "start": start,
            "siblings": siblings,
            "history": history,
            "is_auditor": auditor,
            "hold": active_hold(recording) if auditor else None,
            "transcript": transcript,
            "audio_hash": AudioHash.objects.filter(recording=recording).first(),
            # Earlier texts of the transcript, replaced by later transcriptions: auditors' only.
            "transcript_versions": list(transcript.versions.all()) if auditor and transcript else [],
            "notes": notes_by_recording([recording.pk]).get(recording.pk, []) if auditor else None,
            "share_links": links_of(recording) if can_share(request.user) else None,
            "share_form": ShareLinkForm(initial={"start": request.GET.get("t", "")}),
        },
    )


@listener_required
@require_http_methods(["GET", "HEAD"])
def recording_audio(request: SignedInRequest, recording_id: str) -> HttpResponse | StreamingHttpResponse:
    recording = get_object_or_404(Recording, recording_id=recording_id)
    try:
        slot = concurrency.acquire("stream", request.user.pk, settings.STREAMS_PER_USER)
    except concurrency.TooMany as exc:
        return HttpResponse(
            f"You have {exc.limit} audio streams or ZIP downloads open already; close a player or wait "
            "for a download to finish.",
            status=429,
            content_type="text/plain",
        )
    closers = [slot.release]  # when the response is done, or at once if there is none
    try:
        target = media.check(recording.recording_url)
        client = client_from_settings(INTERACTIVE)
        closers.append(client.close)
        upstream = media.open_audio(target, request.headers.get("Range"), client=client)
    except media.MediaRefused as exc:
        media.StreamBody((), *closers).close()
        return HttpResponse(f"This recording's audio cannot be played: {exc}.", status=403, content_type="text/plain")
    except VobizError as exc:
        media.StreamBody((), *closers).close()
        logger.warning("audio for %s not fetched: %s", recording_id, exc)
        return HttpResponse(f"The audio could not be fetched from Vobiz: {exc}", status=502, content_type="text/plain")

    actor = actor_of(request)
    body = audio_hashes.served_chunks(upstream, actor=actor, recording=recording) if request.method == "GET" else ()
    response = StreamingHttpResponse(
        media.StreamBody(body, upstream.close, *closers),
        status=upstream.status_code,
        content_type=media.content_type(recording, upstream.headers.get("Content-Type")),
    )
    if request.method == "GET":
        downloading = request.GET.get("download") == "1"
        record_listening(
            actor=actor,
            recording=recording,
            action=Action.DOWNLOAD if downloading else Action.PLAY,
            status=upstream.status_code,
            content_range=upstream.headers.get("Content-Range"),
        )
    for header in media.PASSED_HEADERS:
        if header in upstream.headers:
            response[header] = upstream.headers[header]
    response["Cache-Control"] = "private, no-store"  # a call's audio stays in no cache, not even the browser's
    if request.GET.get("download") == "1":
        # As an attachment the header is always given: None is only for inline without a name.
        response["Content-Disposition"] = cast(str, content_disposition_header(True, media.download_name(recording)))
    return response


@listener_required
@require_http_methods(["GET", "POST"])
def call_detail(request: SignedInRequest, call_uuid: str) -> HttpResponse:
    if request.method == "POST":
        try:
            run = request_call_record_refresh(actor=actor_of(request), call_uuid=call_uuid)
        except AlreadyQueued as exc:
            messages.info(request, f"{exc}: it was not queued again.")
            return redirect("recordings:call", call_uuid=call_uuid)
        except (TooManyRefreshes, RefreshBusy, UnknownCall) as exc:
            messages.error(request, str(exc))
            return redirect("recordings:call", call_uuid=call_uuid)
        if run.status == TaskRun.Status.SUCCEEDED:  # a queue that runs tasks at once
            messages.success(request, "The call record was fetched again from Vobiz.")
        elif run.status == TaskRun.Status.UNQUEUED:
            messages.error(request, f"The call record cannot be fetched again now: {run.error}.")
        return redirect("recordings:call", call_uuid=call_uuid)
    result = call_records.call_detail(call_uuid)
    recordings = list(recordings_of_call(call_uuid=call_uuid).select_related("transcript"))
    auditor = is_auditor(request.user)
    call_notes = notes_by_recording(recording.pk for recording in recordings) if auditor else {}
    return render(
        request,
        "recordings/call_detail.html",
        {
            "call_uuid": call_uuid,
            "cdr": result.record,
            "facts": call_facts(result.record.data) if result.record else [],
            "cdr_problem": result.problem,
            "refresh": call_record_refresh(call_uuid),
            "recordings": recordings,
            "is_auditor": auditor,
            "call_hold": active_call_hold(call_uuid) if auditor else None,
            # Each recording with its notes at moments (auditors' only: support sees none).
            "recordings_and_notes": [(recording, call_notes.get(recording.pk, [])) for recording in recordings],
        },
    )


@listener_required
@require_GET
def sync_runs(request: SignedInRequest) -> HttpResponse:
    queue = queue_rows()
    auditor = is_auditor(request.user)
    table = SyncRunTable(runs())
    options = TableOptionsForm(request.GET).table_options(per_page=50)
    RequestConfig(request, paginate=options.paginate()).configure(table)
    return render(
        request,
        "recordings/sync_runs.html",
        {
            "table": table,
            "is_auditor": auditor,
            "running": bool(lock_holder()),
            "queue": queue,
            "queue_active": any(row.run.status in ("queued", "running") and not row.stalled for row in queue),
            "unread": unread_count(),
            "slow_searches": slow_searches(),
            "retention_runs": retention_runs.latest_runs(limit=5) if auditor else None,
            "retention_switch": retention_rules.switch() if auditor else None,
        },
    )
