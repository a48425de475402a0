"""Quality review in a real Chromium: notes at moments, the review queue, the speakers' lanes."""

import re

import pytest

from recordings.models import AuditEvent, MomentNote, Recording, ReviewSample
from recordings.roles import AUDITORS, role_group
from recordings.sync import SyncOptions, sync_recordings

from .test_browser import browser, fake_account  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def auditor_page(browser, live_server, fake_vobiz, vobiz_client, django_user_model):  # noqa: F811
    sync_recordings(SyncOptions(), client=vobiz_client)
    user = django_user_model.objects.create_user("auditor", password="review-carefully-42")
    user.groups.add(role_group(AUDITORS))
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # CSP violations show as console errors; a refused request (a 400 the test asks for) does too.
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "auditor")
    page.fill("input[name=password]", "review-carefully-42")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    yield page
    context.close()
    assert errors == []


def long_recording():
    return Recording.objects.filter(recording_duration_ms__gte=30_000, recording_format="mp3").first()


def play_until(page, seconds):
    audio = page.locator("[data-recording] audio").first
    audio.evaluate("a => a.play()")
    page.wait_for_function(f"a => a.currentTime > {seconds}", arg=audio.element_handle(), timeout=15000)
    audio.evaluate("a => a.pause()")
    return audio


def test_a_note_pinned_while_playing_gets_a_marker_and_clicking_it_plays_from_there(auditor_page):
    page = auditor_page
    recording = long_recording()
    page.goto(f"/recordings/{recording.recording_id}/")
    assert page.locator(".moment-marker").count() == 0
    audio = play_until(page, 2)
    pinned = audio.evaluate("a => a.currentTime")
    page.locator("main h1").click()  # focus out of the player, as a reviewer's click would
    page.keyboard.press("m")
    assert page.evaluate("document.activeElement.matches('[data-note-text]')")
    page.keyboard.type("Agent promises a refund")
    audio.evaluate("a => a.play()")  # writing while it plays on: the note keeps the moment it began at
    page.keyboard.press("Enter")
    page.wait_for_selector(".note-list .note")
    note = MomentNote.objects.get()
    assert note.text == "Agent promises a refund"
    assert abs(note.at_ms / 1000 - pinned) < 0.2
    marker = page.locator(".moment-marker")
    assert marker.count() == 1
    audio.evaluate("a => { a.pause(); a.currentTime = 20; }")
    marker.click()
    page.wait_for_function("a => !a.paused", arg=audio.element_handle())
    assert abs(audio.evaluate("a => a.currentTime") - note.at_ms / 1000) < 1

    page.reload()
    assert page.locator(".moment-marker").count() == 1
    link = page.locator(".note-time")
    assert link.inner_text() == f"0:{int(pinned):02d}"
    link.click()
    audio = page.locator("[data-recording] audio").first
    page.wait_for_function("a => !a.paused && a.currentTime > 0", arg=audio.element_handle())
    assert abs(audio.evaluate("a => a.currentTime") - note.at_ms / 1000) < 1
    assert page.url.endswith(f"/recordings/{recording.recording_id}/")  # played in place, not followed


def test_a_bad_moment_is_explained_under_the_form(auditor_page):
    page = auditor_page
    recording = long_recording()
    page.goto(f"/recordings/{recording.recording_id}/")
    page.fill("[data-note-text]", "Too late")
    page.fill("input[name=at]", "999:00")
    page.press("[data-note-text]", "Enter")
    page.wait_for_selector("[data-note-error]:not([hidden])")
    assert "past the end" in page.inner_text("[data-note-error]")
    assert not MomentNote.objects.exists()


def test_a_sample_is_drawn_and_reviewed_from_the_keyboard(auditor_page):
    page = auditor_page
    page.click("nav >> text=Review")
    page.fill("input[name=added_after]", "2000-01-01")
    page.fill("input[name=added_before]", "2999-12-31")
    page.select_option("select[name=recording_type]", "")
    page.fill("input[name=percent]", "10")
    page.fill("input[name=per_caller]", "0")
    page.fill("input[name=seed]", "77")
    page.click("text=Draw the sample")
    page.wait_for_url(re.compile(r"/review/\d+/$"))
    sample = ReviewSample.objects.get()
    assert sample.seed == 77 and sample.items.count() == 8  # 10 % of the 80, rounded up
    assert "0 of 8 reviewed" in page.inner_text("main")
    page.click("text=Start reviewing")
    page.wait_for_url(re.compile(r"/review/\d+/1/$"))

    page.keyboard.press("k")
    audio = page.locator("[data-recording] audio")
    page.wait_for_function("a => a.currentTime > 0.3", arg=audio.element_handle(), timeout=15000)
    page.keyboard.press("r")
    page.wait_for_url(re.compile(r"/review/\d+/2/$"))
    assert "1 of 8 reviewed" in page.inner_text("main")

    page.keyboard.press("f")
    assert page.is_visible("[data-review-hint]")
    assert page.evaluate("document.activeElement.matches('[data-review-note]')")
    page.keyboard.type("Customer shouted at")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/review/\d+/3/$"))
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"/review/\d+/4/$"))
    page.keyboard.press("p")
    page.wait_for_url(re.compile(r"/review/\d+/3/$"))
    page.keyboard.press("p")
    page.wait_for_url(re.compile(r"/review/\d+/2/$"))
    assert "Flagged" in page.inner_text("#verdict-heading")
    assert page.input_value("[data-review-note]") == "Customer shouted at"

    outcomes = list(sample.items.order_by("position").values_list("outcome", "note")[:3])
    assert outcomes == [("reviewed", ""), ("flagged", "Customer shouted at"), ("", "")]
    first = sample.items.get(position=1).recording
    assert AuditEvent.objects.filter(action="play", recording=first).count() == 1
