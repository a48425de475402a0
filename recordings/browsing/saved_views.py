"""Saved views of the recordings table: a name for a query string, its owner's or, made by an
auditor, everyone's. Opening one keeps only what the filter form still has: a view saved before
a filter was removed still opens, and says what was dropped."""

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from recordings.browsing.filters import RecordingFilter
from recordings.browsing.tables import TableOptionsForm
from recordings.models import SavedView
from recordings.roles import is_auditor

# How a query names the view, not which rows: never kept.
NOT_KEPT = ("page", "_export")
MOST_PER_USER = 50
LONGEST_QUERY = 4000  # characters: longer than any the table's form makes


class ViewRefused(Exception):
    """The view cannot be saved or renamed; the message says why."""


def known_names(*, auditor: bool) -> frozenset[str]:
    """The parameters the recordings table reads, for auditors or for support."""
    return frozenset(RecordingFilter(auditor=auditor).filters) | frozenset(TableOptionsForm.base_fields)


def kept_query(query: str) -> str:
    """`query` as a view keeps it: without the page number, and without empty values."""
    data = QueryDict(query, mutable=True)
    for name in NOT_KEPT:
        data.pop(name, None)
    kept = QueryDict(mutable=True)
    for name in data:
        for value in data.getlist(name):
            if value.strip():
                kept.appendlist(name, value)
    return kept.urlencode()


@dataclass(frozen=True)
class Opened:
    query: str  # what the table still reads of the view
    dropped: list[str]  # the names it no longer reads, in the order saved
    auditors_only: list[str]  # the names only an auditor's table reads, left out for another


def opened(view: SavedView, *, auditor: bool) -> Opened:
    """The view's query as the table reads it now, and the filters it names that the form lacks:
    gone from it, or an auditor's (a shared view an auditor saved, opened by support)."""
    data = QueryDict(view.query)
    known = known_names(auditor=auditor)
    for_auditors = known_names(auditor=True) - known
    kept = QueryDict(mutable=True)
    dropped: list[str] = []
    auditors_only: list[str] = []
    for name in data:
        if name in known:
            kept.setlist(name, data.getlist(name))
        elif name in for_auditors:
            if name not in auditors_only:
                auditors_only.append(name)
        elif name not in dropped:
            dropped.append(name)
    return Opened(kept.urlencode(), dropped, auditors_only)


# ---------- selectors ----------


def visible_to(user: User) -> QuerySet[SavedView]:
    """The user's own views and everyone's shared ones, by name."""
    return SavedView.objects.filter(Q(owner=user) | Q(shared=True)).order_by("name", "id")


def owned_by(user: User) -> QuerySet[SavedView]:
    return SavedView.objects.filter(owner=user).order_by("name", "id")


# ---------- services ----------


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ViewRefused("give the view a name")
    if len(name) > SavedView._meta.get_field("name").max_length:  # type: ignore[operator]
        raise ViewRefused("the name is too long")
    return name


def save_view(*, owner: User, name: str, query: str, shared: bool) -> SavedView:
    """Name the table's view `query` for `owner`; `shared` (if the owner is an auditor) for everyone."""
    if shared and not is_auditor(owner):
        raise ViewRefused("only auditors share views with everyone")
    query = kept_query(query)
    if len(query) > LONGEST_QUERY:
        raise ViewRefused("the view's filters are too long to keep")
    try:
        with transaction.atomic():
            # The owner's row locked, two saves at once count one after the other (SQLite's
            # transactions are IMMEDIATE: one writer at a time already).
            User.objects.select_for_update().get(pk=owner.pk)
            if SavedView.objects.filter(owner=owner).count() >= MOST_PER_USER:
                raise ViewRefused(f"you have {MOST_PER_USER} saved views already: remove one first")
            return SavedView.objects.create(
                owner=owner, name=clean_name(name), query=query, shared=shared, created_at=timezone.now()
            )
    except IntegrityError:
        raise ViewRefused(f"you have a view named {clean_name(name)!r} already") from None


def rename_view(*, view: SavedView, name: str) -> SavedView:
    view.name = clean_name(name)
    try:
        with transaction.atomic():
            view.save(update_fields=["name"])
    except IntegrityError:
        raise ViewRefused(f"you have a view named {view.name!r} already") from None
    return view


def remove_view(*, view: SavedView) -> None:
    view.delete()
