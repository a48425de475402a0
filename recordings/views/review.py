"""The review queue: auditors draw samples of recordings and step through them, keyboard first."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_tables2 import RequestConfig

from recordings.browsing import listing
from recordings.browsing.exports import csv_rows_response
from recordings.browsing.filters import RecordingFilter
from recordings.browsing.tables import TableOptionsForm
from recordings.forms import ReviewItemForm, ReviewSampleForm
from recordings.models import ReviewItem
from recordings.review import samples as review_samples
from recordings.review.notes import notes_by_recording
from recordings.review.tables import ReviewItemTable
from recordings.roles import auditor_required
from recordings.views.common import SignedInRequest, actor_of, form_errors

ITEMS_PER_PAGE = 100  # one of the tables' page sizes
PREVIEW = "count_first"  # the sample form's button that counts rather than draws
EXPORT_COLUMNS = [
    "position",
    "recording__recording_id",
    "recording__call_uuid",
    "recording__add_time",
    "recording__from_number",
    "recording__to_number",
    "recording__recording_type",
    "recording__recording_duration_ms",
    "outcome",
    "note",
    "reviewer",
    "reviewed_at",
]


@auditor_required
@require_http_methods(["GET", "POST"])
def samples(request: SignedInRequest) -> HttpResponse:
    """The samples with their progress, and the form that draws a new one."""
    form = ReviewSampleForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        criteria = form.criteria()
        filterset = RecordingFilter(
            review_samples.criteria_query(criteria), queryset=listing.recordings(), auditor=True
        )
        try:
            if PREVIEW in request.POST:  # "Count first": how many the rule draws, nothing drawn
                size = review_samples.sample_size(
                    recordings=filterset.qs,
                    percent=form.cleaned_data["percent"],
                    per_caller=form.cleaned_data["per_caller"],
                )
                return render_samples(request, form, size)
            sample = review_samples.create_sample(
                actor=actor_of(request),
                name=form.cleaned_data["name"],
                criteria=criteria,
                recordings=filterset.qs,
                percent=form.cleaned_data["percent"],
                per_caller=form.cleaned_data["per_caller"],
                seed=form.cleaned_data["seed"],
            )
        except review_samples.SampleRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            return redirect("recordings:review_sample", sample_id=sample.pk)
    return render_samples(request, form, None, status=400 if form.is_bound else 200)


def render_samples(
    request: HttpRequest, form: ReviewSampleForm, size: review_samples.SampleSize | None, status: int = 200
) -> HttpResponse:
    context = {"form": form, "size": size, "samples": review_samples.samples_with_progress()[:100]}
    return render(request, "recordings/review_samples.html", context, status=status)


@auditor_required
@require_GET
def sample(request: HttpRequest, sample_id: int) -> HttpResponse:
    found = get_object_or_404(review_samples.samples_with_progress(), pk=sample_id)
    table = ReviewItemTable(
        found.items.select_related("recording", "reviewed_by")
        .defer("recording__raw")
        .prefetch_related("recording__moment_notes")
        .order_by("position")
    )
    options = TableOptionsForm(request.GET).table_options(per_page=ITEMS_PER_PAGE)
    RequestConfig(request, paginate=options.paginate()).configure(table)
    return render(
        request,
        "recordings/review_sample.html",
        {"sample": found, "table": table, "next_item": review_samples.next_to_review(found)},
    )


@auditor_required
@require_GET
def start(request: HttpRequest, sample_id: int) -> HttpResponse:
    """Continue where the sample's review stands: its first recording not reviewed yet."""
    found = get_object_or_404(review_samples.samples_with_progress(), pk=sample_id)
    item = review_samples.next_to_review(found)
    if item is None:
        total: int = found.total  # type: ignore[attr-defined]  # counted by review_samples.samples_with_progress()
        messages.success(request, f"Every recording of this sample is reviewed ({total}).")
        return redirect("recordings:review_sample", sample_id=found.pk)
    return redirect("recordings:review_item", sample_id=found.pk, position=item.position)


@auditor_required
@require_http_methods(["GET", "POST"])
def item(request: SignedInRequest, sample_id: int, position: int) -> HttpResponse:
    """One recording of a sample: play it, mark it reviewed or flagged with a note, go on."""
    found = get_object_or_404(review_samples.samples_with_progress(), pk=sample_id)
    total: int = found.total  # type: ignore[attr-defined]  # counted by review_samples.samples_with_progress()
    current = get_object_or_404(
        ReviewItem.objects.select_related("recording", "reviewed_by"), sample=found, position=position
    )
    form = ReviewItemForm(request.POST if request.method == "POST" else None, initial={"note": current.note})
    if request.method == "POST":
        if form.is_valid():
            review_samples.review_item(
                actor=actor_of(request),
                item=current,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
            )
            following = review_samples.next_to_review(found, after=position)
            if following is None:
                messages.success(request, f"Done: all {total} recordings of this sample are reviewed.")
                return redirect("recordings:review_sample", sample_id=found.pk)
            return redirect("recordings:review_item", sample_id=found.pk, position=following.position)
        messages.error(request, form_errors(form))
    recording = current.recording
    return render(
        request,
        "recordings/review_item.html",
        {
            "sample": found,
            "item": current,
            "recording": recording,
            "form": form,
            "notes": notes_by_recording([recording.pk]).get(recording.pk, []),
            "previous": position - 1 if position > 1 else None,
            "next": position + 1 if position < total else None,
        },
        status=400 if form.is_bound else 200,
    )


@auditor_required
@require_GET
def export(request: SignedInRequest, sample_id: int) -> StreamingHttpResponse:
    found = get_object_or_404(review_samples.samples_with_progress(), pk=sample_id)
    items = review_samples.export_sample(actor=actor_of(request), sample=found)
    rows = review_samples.export_rows(items, EXPORT_COLUMNS)
    return csv_rows_response([*EXPORT_COLUMNS, "moment_notes"], rows, f"review-sample-{found.pk}")
