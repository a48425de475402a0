"""Notes pinned to a moment of a recording: adding one, and finding them by their text."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from recordings.browsing.tables import TableOptionsForm
from recordings.forms import MomentNoteForm
from recordings.models import Recording
from recordings.review import notes
from recordings.review.tables import MomentNoteTable
from recordings.roles import auditor_required
from recordings.views.common import SignedInRequest, actor_of, form_errors

NOTES_PER_PAGE = 50  # one of the tables' page sizes


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@auditor_required
@require_POST
def add_note(request: SignedInRequest, recording_id: str) -> HttpResponse:
    """Pin a note; the page's script posts it and shows it at once, without JavaScript it is a form."""
    recording = get_object_or_404(Recording, recording_id=recording_id)
    form = MomentNoteForm(request.POST, duration_ms=recording.recording_duration_ms)
    if not form.is_valid():
        if wants_json(request):
            return JsonResponse({"error": form_errors(form)}, status=400)
        messages.error(request, form_errors(form))
        return redirect(reverse("recordings:detail", args=[recording_id]) + "#notes")
    note = notes.add_note(
        actor=actor_of(request),
        recording=recording,
        at_ms=form.cleaned_data["at"],
        text=form.cleaned_data["text"],
    )
    if wants_json(request):
        html = render_to_string("recordings/_note.html", {"note": note, "recording": recording}, request)
        return JsonResponse({"at": note.at_seconds, "html": html}, status=201)
    messages.success(request, "Note saved.")
    return redirect(reverse("recordings:detail", args=[recording_id]) + "#notes")


@auditor_required
@require_GET
def note_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").replace("\x00", "")[:200]  # PostgreSQL refuses NUL
    table = MomentNoteTable(notes.search_notes(query))
    options = TableOptionsForm(request.GET).table_options(per_page=NOTES_PER_PAGE)
    RequestConfig(request, paginate=options.paginate()).configure(table)
    return render(request, "recordings/notes.html", {"query": query, "table": table})
