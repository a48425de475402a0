"""Saved views in a real Chromium: saved from the table, opened from a chip, renamed, removed."""

import re

import pytest
from playwright.sync_api import expect

from recordings.roles import SUPPORT
from tests.conftest import user_in_role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_view_is_saved_opened_from_its_chip_renamed_and_removed(synced, signed_in, django_user_model, live_server):
    user_in_role(django_user_model, "support", SUPPORT)
    page = signed_in("support")
    page.goto("/?recording_type=call&min_duration=5")
    page.locator(".save-view summary").click()
    page.fill("#save-view-name", "Calls over 5 s")
    page.get_by_role("button", name="Save", exact=True).click()
    chip = page.locator("[data-saved-view]", has_text="Calls over 5 s")
    expect(chip).to_have_attribute("aria-current", "true")

    page.goto("/")
    page.locator("[data-saved-view]", has_text="Calls over 5 s").click()
    page.wait_for_url(re.compile(r"/\?recording_type=call&min_duration=5$"))
    expect(page.locator("select[name=recording_type]")).to_have_value("call")

    page.get_by_role("link", name="Rename or remove…").click()
    page.get_by_label("New name for Calls over 5 s").fill("Short calls out")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator(".message")).to_contain_text("Renamed to “Short calls out”")
    page.get_by_role("button", name="Remove Short calls out").click()
    expect(page.locator("main")).to_contain_text("No saved views yet")
    page.goto("/")
    expect(page.locator("[data-saved-view]")).to_have_count(0)


def test_the_chips_and_the_views_page_fit_a_phone(synced, signed_in, django_user_model):
    from recordings.browsing.saved_views import save_view

    owner = user_in_role(django_user_model, "support", SUPPORT)
    for name in ("Calls from the Mumbai office", "Long calls", "Short calls out of hours"):
        save_view(owner=owner, name=name, query="recording_type=call", shared=False)
    page = signed_in("support", viewport={"width": 390, "height": 844})
    for path in ("/", "/views/"):
        page.goto(path)
        page.locator(".save-view summary").first.click() if path == "/" else None
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
