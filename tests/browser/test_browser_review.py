"""Quality review in a real Chromium: notes at moments, the review queue, the speakers' lanes."""

import io
import math
import re
import wave
from array import array

import pytest

from recordings.models import AuditEvent, MomentNote, Recording, ReviewSample
from recordings.roles import AUDITORS
from tests.conftest import user_in_role
from vobiz.fake import audio as fake_audio

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def auditor_page(synced, signed_in, django_user_model):
    user_in_role(django_user_model, "auditor", AUDITORS)
    return signed_in("auditor")


def long_recording():
    return Recording.objects.filter(recording_duration_ms__gte=30_000, recording_format="mp3").first()


def play_until(page, seconds):
    page.locator("[data-recording] [data-player-play]").first.click()  # the player is built when used
    audio = page.locator("[data-recording] audio").first
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


RATE = 8000


def wav(channels, spans, seconds=12):
    """A WAV of `seconds`: a tone on each channel over its (start, end) spans; silence elsewhere."""
    frames = array("h", [0] * (seconds * RATE * channels))
    for channel, (start, end) in spans:
        for i in range(int(start * RATE), int(end * RATE)):
            frames[i * channels + channel] = int(8000 * math.sin(2 * math.pi * (200 + 150 * channel) * i / RATE))
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(2)
        file.setframerate(RATE)
        file.writeframes(frames.tobytes())
    return out.getvalue()


# The caller speaks, then the callee, both at 4–5.5 s, then 4.5 s of silence, then the caller again.
CONVERSATION = [(0, (0, 2)), (1, (2, 4)), (0, (4, 5.5)), (1, (4, 5.5)), (0, (10, 12))]


@pytest.fixture
def served_audio(monkeypatch):
    """Make the fake Vobiz serve every WAV recording as the given bytes."""

    def serve(data):
        monkeypatch.setattr(fake_audio, "render", lambda recording_format, duration_ms: data)

    return serve


def audio_requests(page):
    requests = []
    page.on("request", lambda request: requests.append(request.url) if "/audio" in request.url else None)
    return requests


def test_the_speakers_lanes_mark_overlap_and_silence_and_seek(auditor_page, served_audio):
    page = auditor_page
    served_audio(wav(2, CONVERSATION))
    recording = Recording.objects.filter(recording_format="wav").first()
    fetched = audio_requests(page)
    page.goto(f"/recordings/{recording.recording_id}/")
    page.wait_for_timeout(300)
    assert fetched == []  # nothing is fetched (or logged as listening) before it is asked for
    assert page.is_hidden("[data-lanes]")

    page.click("[data-speakers-show]")
    page.wait_for_selector("[data-speakers-drawn=stereo]")
    assert len(fetched) == 1 and AuditEvent.objects.filter(action="play", recording=recording).count() == 1
    assert page.locator("[data-lane]:visible").count() == 2
    overlap = page.locator(".speaker-moment-overlap")
    silence = page.locator(".speaker-moment-silence")
    assert overlap.count() == 1 and silence.count() == 1
    assert re.fullmatch(r"Both speak at 0:0[34] \(1\.[4-6] s\)", overlap.inner_text())
    assert re.fullmatch(r"Silence at 0:0[56] \(4\.[3-6] s\)", silence.inner_text())
    # Something is drawn on each lane: the canvas is not blank.
    drawn = "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v > 0)"
    assert all(canvas.evaluate(drawn) for canvas in page.locator("[data-lane] canvas").all())

    overlap.click()
    audio = page.locator("[data-recording] audio")
    page.wait_for_function("a => !a.paused && a.currentTime > 3.5", arg=audio.element_handle(), timeout=15000)
    assert audio.evaluate("a => a.currentTime") < 6
    # The playhead follows: 4 s or more into 12 s.
    page.wait_for_function("() => parseFloat(document.querySelector('.lane-playhead').style.left) > 30")

    audio.evaluate("a => a.pause()")
    box = page.locator("[data-lanes]").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + 10)  # a point of a lane: 90 % in
    page.wait_for_function("a => a.currentTime > 10", arg=audio.element_handle(), timeout=15000)
    assert len(fetched) >= 2  # the player's own requests; the listening log still has one play
    assert AuditEvent.objects.filter(action="play", recording=recording).count() == 1


def test_playing_draws_the_lanes_and_a_mono_recording_says_it_has_one(auditor_page, served_audio):
    page = auditor_page
    served_audio(wav(1, [(0, (0, 3))]))
    recording = Recording.objects.filter(recording_format="wav").first()
    page.goto(f"/recordings/{recording.recording_id}/")
    page.keyboard.press("k")
    page.wait_for_selector("[data-speakers-drawn=mono]")
    assert page.locator("[data-lane]:visible").count() == 1
    assert "Mono recording" in page.inner_text("[data-speakers-status]")
    assert page.locator(".speaker-moment-overlap").count() == 0
    assert page.locator(".speaker-moment-silence").count() == 1  # 3 s to 12 s


def test_audio_that_cannot_be_fetched_is_said_so(auditor_page, monkeypatch):
    page = auditor_page
    recording = Recording.objects.filter(recording_format="wav").first()
    Recording.objects.filter(pk=recording.pk).update(recording_url="http://outside.example.com/a.wav")
    page.goto(f"/recordings/{recording.recording_id}/")
    page.click("[data-speakers-show]")
    page.wait_for_selector("[data-speakers-show]:has-text('Try again')")
    assert "cannot be played" in page.inner_text("[data-speakers-status]")
