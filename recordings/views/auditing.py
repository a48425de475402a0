"""What auditors do to recordings: review, hold, delete, and start a sync."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recordings.auditing import deletion, holds
from recordings.background import tasks
from recordings.browsing.filters import RecordingFilter
from recordings.forms import ReasonForm, ReviewForm
from recordings.models import DeletionBatch, LegalHold, Recording, TaskRun
from recordings.review import marks
from recordings.roles import auditor_required
from recordings.sync.status import lock_holder
from recordings.views.common import SignedInRequest, actor_of, form_errors
from recordings.views.filtered_view import FilteredView, recordings_list_url, recordings_view
from recordings.views.selection import chosen_recordings


def act_on_form(
    request: HttpRequest, form_class: type[forms.Form], act: Callable[[dict[str, Any]], object], success: str
) -> None:
    """Validate the posted form; if valid, `act(cleaned_data)` and say `success`, else say what is wrong."""
    form = form_class(request.POST)
    if form.is_valid():
        act(form.cleaned_data)
        messages.success(request, success)
    else:
        messages.error(request, form_errors(form))


@auditor_required
@require_POST
def review(request: SignedInRequest, recording_id: str) -> HttpResponse:
    recording = get_object_or_404(Recording, recording_id=recording_id)
    act_on_form(
        request,
        ReviewForm,
        lambda data: marks.set_review(
            actor=actor_of(request), recording=recording, state=data["state"], note=data["note"]
        ),
        "Review saved.",
    )
    return redirect("recordings:detail", recording_id=recording_id)


def hold_from_form(
    request: SignedInRequest, success: str, *, recording: Recording | None = None, call_uuid: str = ""
) -> None:
    """Place the hold the posted reason form asks for on `recording`, or on the call `call_uuid`, and
    say how it went."""
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return
    placed = holds.place_hold(
        actor=actor_of(request), reason=form.cleaned_data["reason"], recording=recording, call_uuid=call_uuid
    )
    if placed.deletions_in_flight:
        batches = ", ".join(str(pk) for pk in placed.deletions_in_flight)
        messages.warning(
            request,
            f"The hold is placed, but deletion {batches} was already sending a recording it covers to Vobiz, "
            "which may have deleted it: its page shows the outcome.",
        )
    elif placed.already_deleted:
        messages.warning(
            request,
            f"The hold is placed, but {placed.already_deleted} of the recordings it covers "
            "were deleted at Vobiz before it.",
        )
    else:
        messages.success(request, success)


@auditor_required
@require_POST
def hold_recording(request: SignedInRequest, recording_id: str) -> HttpResponse:
    recording = get_object_or_404(Recording, recording_id=recording_id)
    hold_from_form(
        request, "The recording is on hold: it cannot be deleted until the hold is lifted.", recording=recording
    )
    return redirect("recordings:detail", recording_id=recording_id)


@auditor_required
@require_POST
def hold_call(request: SignedInRequest, call_uuid: str) -> HttpResponse:
    hold_from_form(request, "Every recording of this call is on hold until the hold is lifted.", call_uuid=call_uuid)
    return redirect("recordings:call", call_uuid=call_uuid)


@auditor_required
@require_POST
def lift_hold(request: SignedInRequest, hold_id: int) -> HttpResponse:
    hold = get_object_or_404(LegalHold.objects.active(), pk=hold_id)
    act_on_form(
        request,
        ReasonForm,
        lambda data: holds.lift_hold(actor=actor_of(request), hold=hold, reason=data["reason"]),
        "The hold is lifted.",
    )
    if hold.recording is not None:  # no query when the hold is on a call: its recording_id is None
        return redirect("recordings:detail", recording_id=hold.recording.recording_id)
    return redirect("recordings:call", call_uuid=hold.call_uuid)


@auditor_required
@require_http_methods(["GET", "POST"])
def delete_recording(request: SignedInRequest, recording_id: str) -> HttpResponse:
    recording = get_object_or_404(Recording, recording_id=recording_id)
    hold = holds.active_hold(recording)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and not hold and not recording.deleted_at and form.is_valid():
        batch = deletion.start_deletion(
            actor=actor_of(request),
            recordings=Recording.objects.filter(pk=recording.pk),
            reason=form.cleaned_data["reason"],
        )
        return queue_deletion(request, batch)
    return render(request, "recordings/confirm_delete.html", {"recording": recording, "hold": hold, "form": form})


@auditor_required
@require_POST
def bulk_delete(request: SignedInRequest) -> HttpResponse:
    """The table's POST writes a batch of exactly the recordings chosen and asks to confirm it; the
    confirmed POST (the batch's id and a reason) lets a worker delete those, and only those."""
    if "batch" in request.POST:
        return confirm_bulk_delete(request)
    chosen = chosen_recordings(request)
    view = chosen.view
    if chosen.whole_view and not view.filterset.is_valid():
        errors = form_errors(view.filterset.form, view.filterset.options_form)
        messages.error(request, f"The filters are not valid, so nothing was chosen: {errors}")
        return redirect(recordings_list_url(view))
    scope = "view" if chosen.whole_view else "rows"
    try:
        batch = deletion.prepare_deletion(
            actor=actor_of(request), recordings=chosen.recordings, scope=scope, filter_query=view.query
        )
    except deletion.NothingToDelete as refused:
        return render_bulk_confirmation(request, refused.choice, scope=scope, view=view)
    return render_bulk_confirmation(
        request, deletion.choice_of(batch), scope=scope, view=view, batch=batch, form=ReasonForm()
    )


def confirm_bulk_delete(request: SignedInRequest) -> HttpResponse:
    form = ReasonForm(request.POST)
    batch = get_object_or_404(
        DeletionBatch, pk=parse_int(request.POST.get("batch")), requested_by=request.user, confirmed_at__isnull=True
    )
    view = recordings_view(batch.filter_query, auditor=True)
    if not form.is_valid():
        choice = deletion.choice_of(batch)
        return render_bulk_confirmation(request, choice, scope=batch.scope, view=view, batch=batch, form=form)
    try:
        batch = deletion.confirm_deletion(user=request.user, batch_id=batch.pk, reason=form.cleaned_data["reason"])
    except deletion.DeletionRefused as exc:
        messages.error(request, str(exc))
        return redirect(recordings_list_url(view))
    return queue_deletion(request, batch)


def render_bulk_confirmation(
    request: SignedInRequest,
    choice: deletion.Choice,
    *,
    scope: str,
    view: FilteredView[RecordingFilter],
    batch: DeletionBatch | None = None,
    form: ReasonForm | None = None,
) -> HttpResponse:
    """The page restating what a deletion of rows or of `view` does (`choice`); with no `batch`, why
    nothing can be deleted."""
    return render(
        request,
        "recordings/confirm_bulk_delete.html",
        {
            "choice": choice,
            "batch": batch,
            "form": form,
            "scope": scope,
            "filter": view.filterset if scope == "view" else None,
            "back_to": recordings_list_url(view),
            "max_per_batch": deletion.MAX_PER_BATCH,
        },
    )


def parse_int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def queue_deletion(request: SignedInRequest, batch: DeletionBatch) -> HttpResponse:
    run = tasks.queue_deletion(batch, requested_by=request.user)
    if run.status == TaskRun.Status.UNQUEUED:
        messages.error(request, not_queued_message("The deletion", run))
    return redirect("recordings:deletion", batch_id=batch.pk)


def not_queued_message(what: str, run: TaskRun) -> str:
    return (
        f"{what} is recorded but not queued: {run.error}. Nothing is lost: it is queued again as soon as "
        "the queue answers, or with Retry on the sync page."
    )


@auditor_required
@require_GET
def deletion_batch(request: SignedInRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(DeletionBatch.objects.select_related("requested_by"), pk=batch_id)
    outcomes = batch.outcomes.select_related("recording").order_by("status", "id")[:1000]
    summary = deletion.summary(batch)
    left = sum(count for _, status, count in summary if status in deletion.RETRYABLE)
    return render(
        request,
        "recordings/deletion_batch.html",
        {
            "batch": batch,
            "summary": summary,
            "outcomes": outcomes,
            "can_retry": batch.finished_at and left,
            "filter": recordings_view(batch.filter_query, auditor=True).filterset if batch.scope == "view" else None,
            "task_run": TaskRun.objects.filter(kind=TaskRun.Kind.DELETION, arguments__batch_id=batch.pk).first(),
            "retention_run": batch.retention_runs.select_related("rule").first(),
        },
    )


@auditor_required
@require_POST
def retry_deletion(request: SignedInRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(DeletionBatch, pk=batch_id, finished_at__isnull=False)
    try:
        retry = deletion.retry_rest(actor=actor_of(request), batch=batch)
    except deletion.DeletionRefused as exc:
        messages.error(request, str(exc))
        return redirect("recordings:deletion", batch_id=batch.pk)
    return queue_deletion(request, retry)


@auditor_required
@require_POST
def sync_now(request: SignedInRequest) -> HttpResponse:
    holder = lock_holder()
    if holder:
        messages.info(request, f"A sync is already running ({holder}).")
        return redirect("recordings:sync_runs")
    try:
        run = tasks.request_sync(actor=actor_of(request))
    except tasks.AlreadyQueued as exc:
        messages.info(request, f"{exc}: it runs when a worker takes it.")
        return redirect("recordings:sync_runs")
    if run.status == TaskRun.Status.UNQUEUED:
        messages.error(request, not_queued_message("The sync", run))
    else:
        messages.success(request, "Sync queued: a worker runs it, and this page shows it running and then its result.")
    return redirect("recordings:sync_runs")


@auditor_required
@require_POST
def retry_task(request: SignedInRequest, task_run_id: int) -> HttpResponse:
    run = get_object_or_404(TaskRun, pk=task_run_id)
    if not tasks.can_retry(run):
        messages.info(request, "That work is queued, running or finished: there is nothing to retry.")
        return redirect("recordings:sync_runs")
    try:
        again = tasks.retry(run, requested_by=request.user)
    except tasks.AlreadyQueued as exc:
        messages.info(request, f"{exc}: it runs when a worker takes it.")
        return redirect("recordings:sync_runs")
    if again.status == TaskRun.Status.UNQUEUED:
        messages.error(request, not_queued_message(f"{again.get_kind_display()} {again.pk}", again))
    else:
        messages.success(request, f"{again.get_kind_display()} queued again.")
    return redirect("recordings:sync_runs")
