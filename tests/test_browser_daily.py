"""The daily work of support and auditors in a real Chromium: time zones, the player, the keyboard,
a phone's screen."""

import os
import re

import pytest

from recordings.models import Recording, ViewerPreference
from recordings.roles import SUPPORT, role_group
from recordings.sync import SyncOptions, sync_recordings

# Playwright's sync API runs an event loop in this thread; the ORM calls here are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "listen-carefully-42"


@pytest.fixture
def support(fake_vobiz, vobiz_client, django_user_model):
    sync_recordings(SyncOptions(), client=vobiz_client)
    user = django_user_model.objects.create_user("support", password=PASSWORD)
    user.groups.add(role_group(SUPPORT))
    return user


def test_times_follow_the_browsers_time_zone(signed_in, support):
    page = signed_in("support", PASSWORD, timezone_id="Asia/Kolkata")
    # The page reports the browser's zone and is shown again in it (Chromium says Asia/Calcutta,
    # the older name of the same zone).
    india = re.compile(r"Asia/(Kolkata|Calcutta)")
    playwright_sync.expect(page.locator("[data-time-zone]")).to_have_attribute("data-time-zone", india)
    assert india.fullmatch(ViewerPreference.objects.get(user=support).time_zone)
    recording = Recording.objects.order_by("-add_time", "-id").first()
    page.goto(f"/recordings/{recording.recording_id}/")
    assert "IST" in page.inner_text("main")
