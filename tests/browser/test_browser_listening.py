"""The listening log and the audio hash as a real browser makes them: play, seek, download."""

import hashlib
import time

import pytest

from recordings.models import AudioHash, AuditEvent, Recording

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Action = AuditEvent.Action


def eventually(check, seconds=10.0):
    """Wait for what the live server writes after the browser has its bytes."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the live server did not write it"
        time.sleep(0.1)


def test_play_seek_and_download_log_one_play_one_download_and_hash_the_audio(page):
    audio_requests = []
    page.on("request", lambda request: "/audio" in request.url and audio_requests.append(request.headers.get("range")))
    recording = Recording.objects.filter(recording_duration_ms__gt=60_000).first()
    other = Recording.objects.exclude(pk=recording.pk).first()
    page.goto(f"/recordings/{recording.recording_id}/")
    player = page.locator("main [data-player]").first

    player.locator("[data-player-play]").click()
    audio = player.locator("audio")
    page.wait_for_function("a => !a.paused && a.currentTime > 0.3", arg=audio.element_handle(), timeout=15000)
    for target in (50, 5, 40):  # forward past what is buffered, back, and forward again
        audio.evaluate("(a, t) => { a.currentTime = t; }", target)
        page.wait_for_function(
            "([a, t]) => !a.seeking && a.currentTime >= t", arg=[audio.element_handle(), target], timeout=15000
        )
    audio.evaluate("a => a.pause()")
    assert audio_requests[0] == "bytes=0-"
    # A short file is buffered whole, so the seeks above asked for nothing more: a seek past the
    # buffer asks for the rest from the middle, as here, in the same session.
    statuses = page.evaluate(
        """async url => Promise.all(["bytes=4000-", "bytes=-2000", "bytes=100-199"].map(
            range => fetch(url, {headers: {Range: range}}).then(response => response.status)))""",
        f"/recordings/{recording.recording_id}/audio",
    )
    assert statuses == [206, 206, 206]

    with page.expect_download() as started:
        player.locator("a.pbtn-download").click()
    downloaded = open(started.value.path(), "rb").read()

    page.goto(f"/recordings/{other.recording_id}/")  # a page opened is not a listen
    events = AuditEvent.objects.order_by("at", "id").values_list("action", "recording", "username")
    assert list(events) == [(Action.PLAY, recording.pk, "support"), (Action.DOWNLOAD, recording.pk, "support")]

    eventually(lambda: AudioHash.objects.filter(recording=recording).exists())
    stored = AudioHash.objects.get(recording=recording)
    assert (stored.audio_sha256, stored.audio_size) == (hashlib.sha256(downloaded).hexdigest(), len(downloaded))
    assert not AuditEvent.objects.filter(action=Action.AUDIO_CHANGED).exists()
