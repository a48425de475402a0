"""Saved views: named from the table, shown as chips, renamed and removed by their owner only,
shared with everyone by auditors only, and opened even when they name a filter that is gone."""

import threading

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client

from recordings.browsing import saved_views
from recordings.models import SavedView
from recordings.roles import SUPPORT
from tests.conftest import user_in_role
from tests.factories import make_recordings

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def recordings() -> None:
    make_recordings(3)


def signed_in(user) -> Client:
    """A client of its own: the role fixtures share one."""
    client = Client()
    client.force_login(user)
    return client


def save(client, name, query, shared=False):
    return client.post("/views/save", {"name": name, "query": query, **({"shared": "1"} if shared else {})})


def test_a_view_is_saved_without_its_page_or_empty_filters_and_shows_as_a_chip(support_client, support_user) -> None:
    response = save(support_client, "  Long   calls ", "min_duration=60&q=&page=3&recording_type=call")
    assert response.status_code == 302
    assert response["Location"] == "/?min_duration=60&recording_type=call"
    view = SavedView.objects.get()
    assert (view.name, view.query, view.owner, view.shared) == (
        "Long calls",
        response["Location"][2:],
        support_user,
        False,
    )
    page = support_client.get("/?min_duration=60&recording_type=call").content.decode()
    assert f'href="/views/{view.pk}/" data-saved-view aria-current="true">Long calls' in page
    assert 'name="query" value="min_duration=60&amp;recording_type=call"' in page


def test_opening_a_view_leads_to_its_table(support_client) -> None:
    save(support_client, "Calls", "recording_type=call")
    response = support_client.get(f"/views/{SavedView.objects.get().pk}/")
    assert response["Location"] == "/?recording_type=call"
    assert support_client.get(response["Location"]).status_code == 200


def test_a_view_naming_a_filter_the_form_no_longer_has_opens_and_says_what_was_dropped(
    support_client, support_user
) -> None:
    view = SavedView.objects.create(
        owner=support_user,
        name="Old",
        query="colour=red&recording_type=call&colour=blue&sort=-add_time",
        created_at="2026-01-01T00:00Z",
    )
    response = support_client.get(f"/views/{view.pk}/")
    assert response["Location"] == "/?recording_type=call&sort=-add_time"
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "left out: colour" in message
    # An auditor's filter in a view support opens is one support's form does not have.
    view.query = "hold=held&q=98"
    view.save()
    response = support_client.get(f"/views/{view.pk}/")
    assert response["Location"] == "/?q=98"
    said = [str(m) for m in get_messages(response.wsgi_request) if "“Old”" in str(m) and "colour" not in str(m)]
    assert said == ["“Old” names filters for auditors only, left out: hold."]


def test_the_service_checks_the_owners_role_itself(support_user, auditor_user) -> None:
    with pytest.raises(saved_views.ViewRefused, match="only auditors"):
        saved_views.save_view(owner=support_user, name="Mine", query="q=1", shared=True)
    assert saved_views.save_view(owner=auditor_user, name="Ours", query="q=1", shared=True).shared


def test_only_auditors_share_views_with_everyone(auditor_user, support_user, django_user_model) -> None:
    auditor_client, support_client, client = signed_in(auditor_user), signed_in(support_user), Client()
    save(auditor_client, "Flagged", "review=flagged", shared=True)
    assert SavedView.objects.get(name="Flagged").shared
    save(support_client, "Mine", "q=1", shared=True)
    assert not SavedView.objects.filter(name="Mine").exists()
    other = user_in_role(django_user_model, "lee", SUPPORT)
    client.force_login(other)
    page = client.get("/").content.decode()
    assert "Flagged" in page and "Mine" not in page


def test_the_owner_renames_and_removes_others_cannot(auditor_user, support_user) -> None:
    auditor_client, support_client = signed_in(auditor_user), signed_in(support_user)
    save(auditor_client, "Shared", "recording_type=call", shared=True)
    view = SavedView.objects.get()
    assert support_client.post(f"/views/{view.pk}/rename", {"name": "Taken"}).status_code == 404
    assert support_client.post(f"/views/{view.pk}/remove").status_code == 404
    assert b"Shared" not in support_client.get("/views/").content  # only one's own to manage
    auditor_client.post(f"/views/{view.pk}/rename", {"name": "Calls only"})
    view.refresh_from_db()
    assert view.name == "Calls only"
    assert b"Calls only" in auditor_client.get("/views/").content
    auditor_client.post(f"/views/{view.pk}/remove")
    assert not SavedView.objects.exists()


def test_names_are_unique_per_owner_and_not_empty(support_client) -> None:
    save(support_client, "A", "q=1")
    response = save(support_client, "A", "q=2")
    assert "already" in str(list(get_messages(response.wsgi_request))[-1])
    save(support_client, "   ", "q=3")
    assert SavedView.objects.count() == 1


def test_a_query_longer_than_any_the_form_makes_is_refused(support_client) -> None:
    response = save(support_client, "Huge", "q=" + "9" * 5000)
    assert response.status_code == 302
    assert "too long" in str(list(get_messages(response.wsgi_request))[-1])
    assert not SavedView.objects.exists()


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks: SQLite's transactions are IMMEDIATE")
@pytest.mark.django_db(transaction=True)
def test_two_saves_at_once_keep_to_the_limit(support_user, monkeypatch) -> None:
    monkeypatch.setattr(saved_views, "MOST_PER_USER", 2)
    saved_views.save_view(owner=support_user, name="First", query="q=1", shared=False)
    both_counted = threading.Barrier(2, timeout=1)
    real_clean_name = saved_views.clean_name

    def counted_then_wait(name):  # called between the count and the insert
        try:
            both_counted.wait()  # without a lock both saves count 1 here, and both insert
        except threading.BrokenBarrierError:
            pass  # the other save waits for the lock this one holds
        return real_clean_name(name)

    monkeypatch.setattr(saved_views, "clean_name", counted_then_wait)
    refused = []

    def save(name):
        try:
            saved_views.save_view(owner=support_user, name=name, query="q=2", shared=False)
        except saved_views.ViewRefused as exc:
            refused.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(name,)) for name in ("Second", "Third")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert SavedView.objects.filter(owner=support_user).count() == 2
    assert len(refused) == 1 and "2 saved views already" in refused[0]
