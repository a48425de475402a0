"""Saved views of the recordings table: saved from the table, opened from its chips, renamed and
removed by their owner on /views/."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from recordings.browsing import saved_views
from recordings.models import SavedView
from recordings.roles import is_auditor, listener_required
from recordings.views.common import SignedInRequest


def table_with(query: str) -> str:
    path = reverse("recordings:list")
    return f"{path}?{query}" if query else path


@listener_required
@require_POST
def save(request: SignedInRequest) -> HttpResponse:
    query = request.POST.get("query", "")
    try:
        view = saved_views.save_view(
            owner=request.user,
            name=request.POST.get("name", ""),
            query=query,
            shared=request.POST.get("shared") == "1",
        )
    except saved_views.ViewRefused as exc:
        messages.error(request, f"The view was not saved: {exc}.")
        return redirect(table_with(saved_views.kept_query(query)))
    messages.success(request, f"Saved as “{view.name}”{' for everyone' if view.shared else ''}.")
    return redirect(table_with(view.query))


@listener_required
@require_GET
def open_view(request: SignedInRequest, view_id: int) -> HttpResponse:
    view = get_object_or_404(saved_views.visible_to(request.user), pk=view_id)
    found = saved_views.opened(view, auditor=is_auditor(request.user))
    if found.dropped:
        messages.warning(
            request,
            f"“{view.name}” names filters the table no longer has, left out: {', '.join(found.dropped)}.",
        )
    if found.auditors_only:
        messages.info(
            request,
            f"“{view.name}” names filters for auditors only, left out: {', '.join(found.auditors_only)}.",
        )
    return redirect(table_with(found.query))


@listener_required
@require_GET
def manage(request: SignedInRequest) -> HttpResponse:
    return render(request, "recordings/saved_views.html", {"views": saved_views.owned_by(request.user)})


def own_view(request: SignedInRequest, view_id: int) -> SavedView:
    """The user's own view: another's (shared ones too) is not theirs to change."""
    view = get_object_or_404(SavedView, pk=view_id)
    if view.owner_id != request.user.pk:
        raise Http404("No such view of yours.")
    return view


@listener_required
@require_POST
def rename(request: SignedInRequest, view_id: int) -> HttpResponse:
    view = own_view(request, view_id)
    try:
        saved_views.rename_view(view=view, name=request.POST.get("name", ""))
    except saved_views.ViewRefused as exc:
        messages.error(request, f"The view was not renamed: {exc}.")
    else:
        messages.success(request, f"Renamed to “{view.name}”.")
    return redirect("recordings:saved_views")


@listener_required
@require_POST
def remove(request: SignedInRequest, view_id: int) -> HttpResponse:
    view = own_view(request, view_id)
    saved_views.remove_view(view=view)
    messages.success(request, f"“{view.name}” is removed.")
    return redirect("recordings:saved_views")
