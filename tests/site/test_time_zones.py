"""Times in the viewer's zone: reported by the browser, kept per user, TIME_ZONE by default."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recordings.models import ViewerPreference
from tests.factories import make_recording

pytestmark = pytest.mark.django_db

# 20:00 UTC on 19 November: already 20 November (01:30) in India.
LATE_EVENING_UTC = "2026-11-19T20:00:00+00:00"


def report(client, zone):
    return client.post("/preferences/time-zone", {"time_zone": zone})


def shown_zone(client):
    return client.get("/").wsgi_request.viewer_zone.name


def test_without_a_known_zone_pages_use_time_zone(support_client, settings):
    assert shown_zone(support_client) == "Etc/UTC"  # UTC, by its current name
    settings.TIME_ZONE = "Asia/Kolkata"
    assert shown_zone(support_client) == "Asia/Kolkata"


def test_the_browsers_zone_is_kept_for_the_user_and_shows_times_in_it(support_client, support_user, client):
    recording = make_recording(add_time=LATE_EVENING_UTC)
    assert "19 Nov 2026 20:00" in support_client.get(f"/recordings/{recording.recording_id}/").content.decode()

    response = report(support_client, "Asia/Kolkata")
    assert response.status_code == 200 and json.loads(response.content) == {
        "changed": True,
        "time_zone": "Asia/Kolkata",
    }
    assert ViewerPreference.objects.get(user=support_user).time_zone == "Asia/Kolkata"
    content = support_client.get(f"/recordings/{recording.recording_id}/").content.decode()
    assert "20 Nov 2026 01:30" in content and "19 Nov 2026 20:00" not in content

    assert json.loads(report(support_client, "Asia/Kolkata").content)["changed"] is False  # nothing new

    # Remembered for the user: a new sign-in, elsewhere, starts in that zone.
    client.logout()
    client.force_login(support_user)
    assert shown_zone(client) == "Asia/Kolkata"


def test_a_zone_the_user_chose_is_not_replaced_by_the_browsers(support_client, support_user):
    response = support_client.post("/preferences/", {"time_zone": "Europe/London"})
    assert response.status_code == 302
    assert shown_zone(support_client) == "Europe/London"
    assert json.loads(report(support_client, "Asia/Kolkata").content)["changed"] is False
    assert shown_zone(support_client) == "Europe/London"

    support_client.post("/preferences/", {"time_zone": ""})  # follow my browser again
    assert json.loads(report(support_client, "Asia/Kolkata").content)["changed"] is True
    assert shown_zone(support_client) == "Asia/Kolkata"
    preference = ViewerPreference.objects.get(user=support_user)
    assert (preference.time_zone, preference.follow_browser) == ("Asia/Kolkata", True)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "UTC" * 30, "<script>"])
def test_a_zone_that_is_not_one_is_refused_and_changes_nothing(support_client, support_user, zone):
    response = report(support_client, zone)
    assert response.status_code == 400 and json.loads(response.content)["changed"] is False
    assert not ViewerPreference.objects.exists()
    response = support_client.post("/preferences/", {"time_zone": zone or "Mars/Olympus"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert shown_zone(support_client) == "Etc/UTC"


def test_the_settings_page_says_which_zone_is_used(support_client):
    report(support_client, "Asia/Kolkata")
    content = support_client.get("/preferences/").content.decode()
    assert "<h1>Your settings</h1>" in content
    assert "in <strong>India Time</strong> (Asia/Kolkata)" in content and "It follows your browser" in content
    assert '<option value="" selected>My browser&#x27;s zone (India Time)</option>' in content
    assert '<option value="Asia/Kolkata">Asia/Kolkata · India Time</option>' in content
    assert 'value="Asia/Calcutta"' not in content  # an old name is not a second choice
    topbar = support_client.get("/").content.decode()
    assert 'data-time-zone="Asia/Kolkata" data-time-zone-follow="1"' in topbar


def test_only_signed_in_listeners_have_settings(client, django_user_model):
    assert client.get("/preferences/").status_code == 302
    assert report(client, "Asia/Kolkata").status_code == 302
    client.force_login(django_user_model.objects.create_user("nobody", password="pw"))
    assert client.get("/preferences/").status_code == 403
    assert report(client, "Asia/Kolkata").status_code == 403


def test_dates_in_filters_are_days_in_the_viewers_zone(support_client):
    recording = make_recording(add_time=LATE_EVENING_UTC)
    day = {"added_after": "2026-11-20", "added_before": "2026-11-20"}
    assert recording.recording_id not in support_client.get("/", day).content.decode()
    report(support_client, "Asia/Kolkata")
    assert recording.recording_id in support_client.get("/", day).content.decode()


def test_a_kept_zone_costs_no_query_on_a_page(support_client):
    def queries():
        with CaptureQueriesContext(connection) as context:
            support_client.get("/sync/")
        return len(context)

    before = queries()
    report(support_client, "Asia/Kolkata")
    assert queries() == before


def test_another_name_for_the_same_zone_is_kept_without_showing_the_page_again(support_client, support_user):
    answer = json.loads(report(support_client, "Etc/UTC").content)
    assert answer == {"changed": False, "time_zone": "Etc/UTC"}
    assert ViewerPreference.objects.get(user=support_user).time_zone == "Etc/UTC"
    assert json.loads(report(support_client, "Asia/Kolkata").content)["changed"] is True
    assert json.loads(report(support_client, "Asia/Calcutta").content)["changed"] is False


def test_an_old_name_the_browser_reports_is_kept_and_shown_by_the_current_one(support_client, support_user):
    """Chromium reports India's zone as Asia/Calcutta: it is kept as Asia/Kolkata, and the pages
    name it as people read it."""
    answer = json.loads(report(support_client, "Asia/Calcutta").content)
    assert answer == {"changed": True, "time_zone": "Asia/Kolkata"}
    assert ViewerPreference.objects.get(user=support_user).time_zone == "Asia/Kolkata"
    page = support_client.get("/").content.decode()
    assert "(days in India Time)" in page and "times in India Time." in page
    assert "Calcutta" not in page
    assert json.loads(report(support_client, "Asia/Kolkata").content)["changed"] is False


def test_a_zone_kept_by_its_old_name_is_shown_by_the_current_one(support_client, support_user, settings):
    ViewerPreference.objects.create(user=support_user, time_zone="Asia/Calcutta", follow_browser=True)
    support_client.force_login(support_user)
    assert shown_zone(support_client) == "Asia/Kolkata"
    settings.TIME_ZONE = "US/Eastern"
    ViewerPreference.objects.all().delete()
    support_client.force_login(support_user)
    assert shown_zone(support_client) == "America/New_York"
