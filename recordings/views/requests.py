"""Data-subject requests: the list, opening one, its page, and each step of its lifecycle.

A step refused for the request's state answers 409 and one refused for who asks 403, each with the
request's page saying why: a replayed or crafted POST never gets a redirect that looks like success.
"""

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recordings import concurrency
from recordings.background import tasks
from recordings.browsing.media import StreamBody
from recordings.forms import SubjectRequestForm
from recordings.models import DeletionBatch, SubjectRequest, TaskRun
from recordings.requests import export, selectors, services
from recordings.roles import auditor_required
from recordings.views.auditing import not_queued_message
from recordings.views.common import SignedInRequest, actor_of


@auditor_required
@require_http_methods(["GET", "POST"])
def request_list(request: SignedInRequest) -> HttpResponse:
    form = SubjectRequestForm(request.POST or None, time_zone=request.viewer_zone.name)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        opened = services.open_request(
            actor=actor_of(request),
            number=data["number"],
            kind=data["kind"],
            reference=data["reference"],
            due_on=data["due_on"],
            time_zone=data["time_zone"],
        )
        messages.success(request, f"Request #{opened.pk} is open.")
        return redirect("recordings:subject_request", request_id=opened.pk)
    page = selectors.requests_page(page_number=request.GET.get("page"))
    status = 400 if form.errors else 200
    return render(
        request,
        "recordings/subject_requests.html",
        {"form": form, "requests": page.object_list, "page": page, "overdue": selectors.overdue_count()},
        status=status,
    )


def request_page(request: SignedInRequest, subject_request: SubjectRequest, *, status: int = 200) -> HttpResponse:
    page = selectors.request_page(subject_request, page_number=request.GET.get("page"))
    deletions = selectors.erasure_deletions(subject_request)
    return render(
        request,
        "recordings/subject_request.html",
        {
            "subject_request": subject_request,
            "found": page,
            "earlier": selectors.earlier_requests(subject_request),
            "near": selectors.near_matches(subject_request)[: selectors.RECORDINGS_PER_PAGE],
            "deletions": deletions,
            "batch": deletions.latest,
            "steps": services.steps(subject_request, deletions),
            "is_opener": request.user.pk == subject_request.opened_by_id,
        },
        status=status,
    )


@auditor_required
@require_GET
def subject_request(request: SignedInRequest, request_id: int) -> HttpResponse:
    return request_page(
        request, get_object_or_404(SubjectRequest.objects.select_related("deletion_batch"), pk=request_id)
    )


def refused(request: SignedInRequest, request_id: int, exc: services.RequestRefused) -> HttpResponse:
    messages.error(request, str(exc))
    found = get_object_or_404(SubjectRequest.objects.select_related("deletion_batch"), pk=request_id)
    return request_page(request, found, status=403 if exc.forbidden else 409)


@auditor_required
@require_POST
def export_request(request: SignedInRequest, request_id: int) -> HttpResponse | StreamingHttpResponse:
    found = get_object_or_404(SubjectRequest, pk=request_id)
    try:
        chunks = export.start_export(actor=actor_of(request), subject_request=found)
    except services.RequestRefused as exc:
        return refused(request, request_id, exc)
    try:
        slot = concurrency.acquire("stream", request.user.pk, settings.STREAMS_PER_USER)
    except concurrency.TooMany as exc:
        message = f"You have {exc.limit} audio streams or ZIP downloads open already; wait for one to finish."
        return refused(request, request_id, services.RequestRefused(message))
    response = StreamingHttpResponse(StreamBody(chunks, slot.release), content_type="application/zip")
    name = f"request_{found.pk}_copy.zip"
    response["Content-Disposition"] = cast(str, content_disposition_header(True, name))
    response["Cache-Control"] = "no-store"
    return response


@auditor_required
@require_http_methods(["GET", "POST"])
def approve_erasure(request: SignedInRequest, request_id: int) -> HttpResponse:
    """The erasure's confirmation, in the bulk deletion's words, and its approval: the POST names the
    figures it was shown (their fingerprint), so what is deleted is what the approver saw."""
    found = get_object_or_404(SubjectRequest, pk=request_id)
    actor = actor_of(request)
    if request.method == "GET":
        try:
            services.approvable(found)
            services.four_eyes(found, actor)
        except services.RequestRefused as exc:
            return refused(request, request_id, exc)
        return render(
            request,
            "recordings/subject_request_approve.html",
            {
                "subject_request": found,
                "plan": selectors.erasure_plan(found),
                "near": selectors.near_matches(found)[: selectors.RECORDINGS_PER_PAGE],
            },
        )
    try:
        approved = services.approve_erasure(
            actor=actor, request_id=request_id, fingerprint=request.POST.get("fingerprint", "")
        )
    except services.RequestRefused as exc:
        return refused(request, request_id, exc)
    if approved.deletion_batch is None or queued(request, approved.deletion_batch):
        messages.success(
            request, "Erasure approved: the recordings are being deleted at Vobiz. Erase here once it is done."
        )
    return redirect("recordings:subject_request", request_id=request_id)


def queued(request: SignedInRequest, batch: DeletionBatch) -> bool:
    """Hand an erasure's deletion to the queue; False, with the reason said, when it could not take it."""
    run = tasks.queue_deletion(batch, requested_by=request.user)
    if run.status == TaskRun.Status.UNQUEUED:
        messages.error(request, not_queued_message("The deletion at Vobiz", run))
        return False
    return True


@auditor_required
@require_POST
def retry_deletion(request: SignedInRequest, request_id: int) -> HttpResponse:
    get_object_or_404(SubjectRequest, pk=request_id)
    try:
        batch = services.retry_erasure_deletion(actor=actor_of(request), request_id=request_id)
    except services.RequestRefused as exc:
        return refused(request, request_id, exc)
    if queued(request, batch):
        messages.success(request, "Vobiz is asked again to delete what it did not. Erase here once it is done.")
    return redirect("recordings:subject_request", request_id=request_id)


@auditor_required
@require_POST
def erase(request: SignedInRequest, request_id: int) -> HttpResponse:
    get_object_or_404(SubjectRequest, pk=request_id)
    try:
        services.erase(actor=actor_of(request), request_id=request_id)
    except services.RequestRefused as exc:
        return refused(request, request_id, exc)
    messages.success(
        request, "Erased: the number is replaced by its keyed hash, and the proof below says what was done."
    )
    return redirect("recordings:subject_request", request_id=request_id)


@auditor_required
@require_POST
def close(request: SignedInRequest, request_id: int) -> HttpResponse:
    get_object_or_404(SubjectRequest, pk=request_id)
    try:
        services.close(actor=actor_of(request), request_id=request_id)
    except services.RequestRefused as exc:
        return refused(request, request_id, exc)
    messages.success(request, "The request is closed.")
    return redirect("recordings:subject_request", request_id=request_id)
