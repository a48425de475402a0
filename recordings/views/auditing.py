"""What auditors do to recordings: review, hold, delete, and start a sync."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import audit, deletion, jobs
from ..forms import ReasonForm, ReviewForm
from ..models import AuditEvent, DeletionBatch, LegalHold, Recording
from ..roles import auditor_required
from ..sync import SyncError, SyncOptions, lock_holder, sync_recordings
from .selection import chosen_recordings


def form_errors(form):
    return " ".join(error for errors in form.errors.values() for error in errors)


def act_on_form(request, form_class, act, success):
    """Validate the posted form; if valid, `act(cleaned_data)` and say `success`, else say what is wrong."""
    form = form_class(request.POST)
    if form.is_valid():
        act(form.cleaned_data)
        messages.success(request, success)
    else:
        messages.error(request, form_errors(form))


@auditor_required
@require_POST
def review(request, recording_id):
    recording = get_object_or_404(Recording, recording_id=recording_id)
    act_on_form(
        request,
        ReviewForm,
        lambda data: audit.set_review(
            **requester(request), recording=recording, state=data["state"], note=data["note"]
        ),
        "Review saved.",
    )
    return redirect("recordings:detail", recording_id=recording_id)


def requester(request):
    """Who acts, as a deletion batch or an audit entry keeps it."""
    return {
        "user": request.user,
        "ip_address": audit.client_ip(request),
        "user_agent": request.headers.get("User-Agent", ""),
    }


@auditor_required
@require_POST
def hold_recording(request, recording_id):
    recording = get_object_or_404(Recording, recording_id=recording_id)
    act_on_form(
        request,
        ReasonForm,
        lambda data: audit.place_hold(request, data["reason"], recording=recording),
        "The recording is on hold: it cannot be deleted until the hold is lifted.",
    )
    return redirect("recordings:detail", recording_id=recording_id)


@auditor_required
@require_POST
def hold_call(request, call_uuid):
    act_on_form(
        request,
        ReasonForm,
        lambda data: audit.place_hold(request, data["reason"], call_uuid=call_uuid),
        "Every recording of this call is on hold until the hold is lifted.",
    )
    return redirect("recordings:call", call_uuid=call_uuid)


@auditor_required
@require_POST
def lift_hold(request, hold_id):
    hold = get_object_or_404(LegalHold.objects.active(), pk=hold_id)
    act_on_form(request, ReasonForm, lambda data: audit.lift_hold(request, hold, data["reason"]), "The hold is lifted.")
    if hold.recording_id:
        return redirect("recordings:detail", recording_id=hold.recording.recording_id)
    return redirect("recordings:call", call_uuid=hold.call_uuid)


@auditor_required
@require_http_methods(["GET", "POST"])
def delete_recording(request, recording_id):
    recording = get_object_or_404(Recording, recording_id=recording_id)
    hold = audit.active_hold(recording)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and not hold and not recording.deleted_at and form.is_valid():
        batch = deletion.start_deletion(request, Recording.objects.filter(pk=recording.pk), form.cleaned_data["reason"])
        return redirect("recordings:deletion", batch_id=batch.pk)
    return render(request, "recordings/confirm_delete.html", {"recording": recording, "hold": hold, "form": form})


@auditor_required
@require_POST
def bulk_delete(request):
    """First POST (from the table) asks for confirmation; the confirmed POST starts the deletion."""
    queryset, filterset = chosen_recordings(request)
    candidates = deletion.deletable(queryset)
    count = candidates.count()
    held = len(audit.held_recording_ids(candidates.values("pk")))
    form = ReasonForm(request.POST if "confirm" in request.POST else None)
    changed = "confirm" in request.POST and request.POST.get("expected_count") != str(count)
    if form.is_bound and not changed and count and form.is_valid():
        batch = deletion.start_deletion(request, candidates, form.cleaned_data["reason"])
        return redirect("recordings:deletion", batch_id=batch.pk)
    if not count:
        messages.info(request, "None of the chosen recordings can be deleted: none selected, or all already deleted.")
        return redirect("recordings:list")
    return render(
        request,
        "recordings/confirm_bulk_delete.html",
        {
            "count": count,
            "held": held,
            "form": form,
            "changed": changed,
            "selected": request.POST.getlist("selected"),
            "scope": request.POST.get("scope", ""),
            "filter_query": request.POST.get("filter_query", ""),
            "oldest": candidates.order_by("add_time").values_list("add_time", flat=True).first(),
            "newest": candidates.order_by("-add_time").values_list("add_time", flat=True).first(),
            "too_many": count > deletion.MAX_PER_BATCH,
            "max_per_batch": deletion.MAX_PER_BATCH,
        },
    )


@auditor_required
@require_GET
def deletion_batch(request, batch_id):
    batch = get_object_or_404(DeletionBatch.objects.select_related("requested_by"), pk=batch_id)
    outcomes = batch.outcomes.select_related("recording").order_by("status", "id")[:1000]
    summary = deletion.summary(batch)
    left = sum(count for _, status, count in summary if status in deletion.RETRYABLE)
    return render(
        request,
        "recordings/deletion_batch.html",
        {"batch": batch, "summary": summary, "outcomes": outcomes, "can_retry": batch.finished_at and left},
    )


@auditor_required
@require_POST
def retry_deletion(request, batch_id):
    batch = get_object_or_404(DeletionBatch, pk=batch_id, finished_at__isnull=False)
    return redirect("recordings:deletion", batch_id=deletion.retry_rest(request, batch).pk)


@auditor_required
@require_POST
def sync_now(request):
    holder = lock_holder()
    if holder:
        messages.info(request, f"A sync is already running ({holder}).")
        return redirect("recordings:sync_runs")
    audit.record_for(**requester(request), action=AuditEvent.Action.SYNC)
    jobs.run_in_background("sync-now", start_sync)
    messages.success(request, "Sync started. This page shows it running and then its result.")
    return redirect("recordings:sync_runs")


def start_sync():
    try:
        sync_recordings(SyncOptions())
    except SyncError:
        pass  # recorded on its SyncRun (or, if another run held the lock, that run is shown)
