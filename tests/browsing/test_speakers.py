"""The speakers' lanes on a recording's page: markup only; the browser tests draw them."""

import pytest

from tests.factories import make_recording

pytestmark = pytest.mark.django_db


def test_every_listener_gets_the_lanes_wired_to_the_logged_audio_url_and_no_audio_is_fetched(support_client):
    recording = make_recording()
    page = support_client.get(f"/recordings/{recording.recording_id}/").content.decode()
    assert f'data-speakers data-audio="/recordings/{recording.recording_id}/audio"' in page
    assert "js/waveform.js" in page and "Show both speakers" in page
    assert " style=" not in page and "<script>" not in page  # the CSP allows neither
    assert not recording.events.exists()
