"""The FilterSets above the tables: filters, and the table's rows per page and sort in the same form."""

from datetime import timedelta

import pytest
from django.http import QueryDict
from django.test import Client
from django.utils import timezone

from recordings.browsing.filters import AuditEventFilter, RecordingFilter
from recordings.models import AuditEvent, Recording
from tests.factories import make_recording

pytestmark = pytest.mark.django_db


def recording_filter(query, auditor=False):
    return RecordingFilter(QueryDict(query), queryset=Recording.objects.all(), auditor=auditor)


def test_rows_per_page_and_sort_are_in_the_form_after_the_filters_and_narrow_nothing():
    make_recording()
    filterset = recording_filter("per_page=100&sort=-recording_duration_ms")
    names = [field.name for field in filterset.visible_fields()]
    assert names[-1] == "per_page" and "per_page" not in filterset.form.fields
    assert filterset.table_options.per_page == 100
    assert filterset.qs.count() == 1
    assert filterset.filters_in_force() == {}
    assert [field.name for field in filterset.hidden_fields()] == ["sort"]


def test_rows_per_page_outside_the_choices_is_a_form_error_and_the_default():
    filterset = recording_filter("per_page=7")
    assert filterset.table_options.per_page == 25
    assert "per_page" in filterset.options_form.errors and not filterset.is_valid()


def test_the_count_key_is_the_valid_filters_in_force():
    filterset = recording_filter("recording_type=call&q=+%2091&min_duration=abc&page=3&per_page=50")
    assert filterset.filters_in_force() == {"recording_type": "call", "q": "91"}


def test_deleted_and_gone_recordings_only_on_request():
    make_recording(recording_id="here")
    Recording.objects.filter(pk=make_recording(recording_id="gone").pk).update(gone_at=timezone.now())
    assert [r.recording_id for r in recording_filter("").qs] == ["here"]
    assert {r.recording_id for r in recording_filter("status=all").qs} == {"here", "gone"}


def test_the_review_filter_is_for_auditors_only():
    assert "review" not in recording_filter("").form.fields
    assert "review" in recording_filter("", auditor=True).form.fields


def test_the_audit_log_filter_has_the_same_table_options():
    filterset = AuditEventFilter(QueryDict("per_page=50"), queryset=AuditEvent.objects.all())
    assert filterset.table_options.per_page == 50


def test_the_table_offers_its_two_searches_first_and_folds_the_other_filters(support_client):
    html = support_client.get("/", {"transcript": "refund"}).content.decode()
    first, folded = html.split('<details class="more-filters"', 1)
    assert 'name="q"' in first and 'name="transcript"' in first  # words said: found without looking
    assert 'name="from_number"' in folded and 'name="transcript"' not in folded
    assert '<details class="more-filters">' in html  # a search alone does not open the others


def test_a_folded_filter_in_force_opens_more_filters(support_client):
    html = support_client.get("/", {"transcript": "refund", "recording_type": "call"}).content.decode()
    assert '<details class="more-filters" open>' in html
    assert "(1 set)" in html


def form_drawn(client, params):
    """The filter form's HTML on the table's page, and whether its fields were drawn for it."""
    response = client.get("/", params)
    html = response.content.decode()
    form = html[html.index('<section class="panel filters"') : html.index("</section>")]
    return form, "recordings/_filter_field.html" in [template.name for template in response.templates]


def test_the_form_is_drawn_once_per_query_and_role(support_client, auditor_user):
    form, drawn = form_drawn(support_client, {"q": "98765", "page": 1})
    assert drawn and 'value="98765"' in form
    again, drawn = form_drawn(support_client, {"q": "98765", "page": 2})
    assert not drawn and again == form  # a page turn shows the same form, kept
    other, drawn = form_drawn(support_client, {"q": "12345"})
    assert drawn and 'value="12345"' in other and "98765" not in other
    wrong, drawn = form_drawn(support_client, {"added_after": "not a day"})
    assert drawn and "Enter a valid date." in wrong
    auditor_client = Client()
    auditor_client.force_login(auditor_user)
    auditors, drawn = form_drawn(auditor_client, {"q": "98765", "page": 1})
    assert drawn and 'name="hold"' in auditors and 'name="hold"' not in form  # each role its fields


def test_the_kept_form_is_drawn_again_on_the_next_day_and_in_another_zone(support_client, monkeypatch):
    today = timezone.localdate()
    form, drawn = form_drawn(support_client, {})
    assert drawn and f"added_after={today.isoformat()}" in form and "(days in UTC)" in form
    monkeypatch.setattr(timezone, "localdate", lambda: today + timedelta(days=1))
    tomorrow, drawn = form_drawn(support_client, {})
    assert drawn and f"added_after={(today + timedelta(days=1)).isoformat()}" in tomorrow
    support_client.post("/preferences/time-zone", {"time_zone": "Asia/Kolkata"})
    elsewhere, drawn = form_drawn(support_client, {})
    assert drawn and "(days in India Time)" in elsewhere


def test_a_repeated_parameter_keeps_its_order_in_the_kept_form(support_client):
    """A field shows the last of its values, so ?q=1&q=2 and ?q=2&q=1 are two forms."""
    first, _ = form_drawn(support_client, {"q": ["11111", "22222"]})
    second, drawn = form_drawn(support_client, {"q": ["22222", "11111"]})
    assert drawn and 'value="22222"' in first and 'value="11111"' in second


@pytest.mark.parametrize("path", ["/", "/audit/"])
def test_empty_filters_are_left_out_of_the_url(auditor_client, path):
    response = auditor_client.get(f"{path}?q=64144&transcript=&call_uuid=&user=&sort=&page=2")
    assert response.status_code == 302
    assert response["Location"] == f"{path}?q=64144&page=2"
    assert auditor_client.get(f"{path}?transcript=&user=")["Location"] == path


def test_links_of_a_view_name_only_the_filters_set(auditor_client):
    make_recording()
    content = auditor_client.get("/", {"q": "rec", "recording_type": "call"}).content.decode()
    assert 'href="?q=rec&amp;recording_type=call&amp;_export=csv"' in content
    assert "=&amp;" not in content and '=&"' not in content
