"""Filters for retention work: "older than N days", what each date bound means, quick ranges,
and recordings on legal hold."""

import re
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recordings.models import LegalHold, Recording
from tests.factories import make_recording

pytestmark = pytest.mark.django_db


def shown(response):
    return {row.record.recording_id for row in response.context["table"].page.object_list}


def at_local(day, hour=0, minute=0):
    return timezone.make_aware(datetime.combine(day, time(hour, minute))).isoformat()


def test_older_than_n_days_keeps_out_everything_younger(support_client):
    today = timezone.localdate()
    bound = today - timedelta(days=30)
    last_in = make_recording(add_time=at_local(bound - timedelta(days=1), 23, 59))
    first_out = make_recording(add_time=at_local(bound))  # 30 days and some hours old: its day is not over
    make_recording(add_time=at_local(today))

    response = support_client.get("/", {"older_than": "30"})
    assert shown(response) == {last_in.recording_id}
    assert first_out.recording_id not in response.content.decode()


def test_older_than_and_an_inclusive_until_both_hold(support_client):
    today = timezone.localdate()
    until = today - timedelta(days=40)
    on_until_day = make_recording(add_time=at_local(until, 18))
    after_until = make_recording(add_time=at_local(until + timedelta(days=1), 1))
    response = support_client.get("/", {"older_than": "30", "added_before": until.isoformat()})
    assert shown(response) == {on_until_day.recording_id}  # "until" includes its whole day
    response = support_client.get("/", {"older_than": "30"})
    assert shown(response) == {on_until_day.recording_id, after_until.recording_id}


@pytest.mark.parametrize("value", ["0", "-3", "abc", "1.5", "99999999", "1e9"])
def test_an_age_that_is_not_a_whole_number_of_days_is_an_error_on_the_form(support_client, value):
    make_recording()
    response = support_client.get("/", {"older_than": value})
    assert response.status_code == 200
    assert response.context["filter"].form.errors["older_than"]


def test_each_bound_says_what_it_means(support_client):
    make_recording()
    content = support_client.get("/").content.decode()
    for name, meaning in [
        ("added_after", "From the start of this day, included."),
        ("added_before", "To the end of this day, included."),
        ("older_than", "Added before the start of the day that many days ago: nothing younger."),
    ]:
        assert re.search(rf'<input[^>]*name="{name}"[^>]*aria-describedby="id_{name}_helptext"', content), name
        assert f'<p class="field-help" id="id_{name}_helptext">{meaning}</p>' in content


def test_quick_ranges_are_days_in_the_viewers_zone(support_client):
    make_recording()
    with timezone.override("Asia/Kolkata"):
        today = timezone.localdate()
    support_client.post("/preferences/time-zone", {"time_zone": "Asia/Kolkata"})
    content = support_client.get("/", {"q": "rec", "page": "2", "older_than": "30"}).content.decode()
    week = f"?q=rec&amp;added_after={(today - timedelta(days=6)).isoformat()}&amp;added_before={today.isoformat()}"
    assert f'href="{week}">Last 7 days</a>' in content
    yesterday = (today - timedelta(days=1)).isoformat()
    assert f"added_after={yesterday}&amp;added_before={yesterday}" in content
    assert "(days in India Time)" in content

    chosen = support_client.get("/", {"added_after": today.isoformat(), "added_before": today.isoformat()})
    assert re.search(r'aria-current="true">Today</a>', chosen.content.decode())


def test_auditors_filter_by_legal_hold(auditor_client, auditor_user, support_user):
    held = make_recording()
    on_held_call = make_recording()
    sibling = make_recording(call_uuid=on_held_call.call_uuid)
    lifted = make_recording()
    free = make_recording()
    now = timezone.now()
    LegalHold.objects.create(recording=held, reason="dispute", placed_by=auditor_user, placed_at=now)
    LegalHold.objects.create(call_uuid=on_held_call.call_uuid, reason="court", placed_by=auditor_user, placed_at=now)
    LegalHold.objects.create(recording=lifted, reason="x", placed_by=auditor_user, placed_at=now, lifted_at=now)

    assert shown(auditor_client.get("/", {"hold": "held"})) == {
        held.recording_id,
        on_held_call.recording_id,
        sibling.recording_id,
    }
    assert shown(auditor_client.get("/", {"hold": "free"})) == {lifted.recording_id, free.recording_id}
    # Holds are auditors' business: support has no such filter, and the parameter narrows nothing.
    support = Client()
    support.force_login(support_user)
    response = support.get("/", {"hold": "held"})
    assert "hold" not in response.context["filter"].form.fields and len(shown(response)) == 5


def test_the_summary_says_what_storing_the_view_costs_a_month(support_client):
    make_recording(monthly_recording_storage_amount="1.25", recording_type="call")
    make_recording(monthly_recording_storage_amount="0.005", recording_type="call")
    make_recording(monthly_recording_storage_amount="40", recording_type="trunk")
    summary = support_client.get("/", {"recording_type": "call"}).context["summary"]
    assert summary.storage_amount == Decimal("1.255")
    content = support_client.get("/", {"recording_type": "call"}).content.decode()
    assert re.search(r"<strong>2</strong> recordings · 2 m in all · <span[^>]*>₹1.26 / month</span>", content)
    assert "₹41.26 / month" in support_client.get("/count").json()["html"]


def test_a_recordings_page_shows_no_raw_epoch_times_and_amounts_in_the_currency(support_client):
    recording = make_recording(
        recording_start_ms="1777696958218.00000",
        recording_end_ms="1777697018218.00000",
        monthly_recording_storage_amount="0.0054",
        recording_storage_rate=0.005,
    )
    support_client.post("/preferences/time-zone", {"time_zone": "Asia/Kolkata"})
    content = support_client.get(f"/recordings/{recording.recording_id}/").content.decode()
    # 1777696958218 ms is 2 May 2026 04:42:38 UTC, 10:12:38 in India.
    assert ">2 May 2026 10:12:38 IST</time></span> / <span" in content and ">2 May 2026 10:13:38 IST</time>" in content
    assert ">1777696958218<" not in content
    assert "<dt>Storage rate</dt><dd>₹0.005</dd>" in content
    assert "<dt>Storage cost</dt><dd>₹0.0054 / month</dd>" in content


def test_auditors_see_holds_and_flag_notes_in_the_table_in_the_same_queries(auditor_client, auditor_user, support_user):
    held = make_recording()
    flagged = make_recording(add_time="2026-11-20T09:00:00+00:00")
    Recording.objects.filter(pk=flagged.pk).update(review_state="flagged", review_note="Agent promised a refund")

    def queries():
        with CaptureQueriesContext(connection) as context:
            response = auditor_client.get("/")
        return len(context), response.content.decode()

    few, content = queries()
    assert "On hold" not in content.split("<tbody", 1)[1]
    LegalHold.objects.create(recording=held, reason="dispute", placed_by=auditor_user, placed_at=timezone.now())
    count, content = queries()
    assert count == few
    rows = content.split("<tbody", 1)[1]
    assert rows.count('<span class="badge badge-held">On hold</span>') == 1
    assert '<span class="row-note">Agent promised a refund</span>' in rows

    support = Client()
    support.force_login(support_user)
    rows = support.get("/").content.decode().split("<tbody", 1)[1]
    assert "On hold" not in rows and "Agent promised" not in rows
