"""In a real Chromium: a recording Vobiz calls back about appears in the open table."""

import re

import pytest
import requests

from recordings.models import Recording, Transcript
from vobiz.fake.callbacks import CallbackSender

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sender(fake_vobiz, live_server, settings):
    settings.DASHBOARD_PUBLIC_URL = live_server.url
    sender = CallbackSender(fake_vobiz.account, live_server.url, seed=3)
    yield sender
    sender.session.close()


def test_a_recording_appears_after_its_callback(page, sender):
    first_row = page.locator("table tbody tr").first
    text, place = first_row.inner_text(), first_row.bounding_box()
    recording_id = sender.new_call()
    banner = page.locator("[data-new-recordings-show]")
    banner.wait_for(state="visible", timeout=15_000)
    assert banner.inner_text() == "1 new recording — show"
    assert first_row.inner_text() == text  # nothing moved meanwhile: not the rows' order,
    assert first_row.bounding_box() == place  # nor where they are under the pointer
    banner.click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("table tbody tr").first.locator(f'a[href="/recordings/{recording_id}/"]').count() == 1

    sender.send_transcription(recording_id)
    assert Transcript.objects.filter(recording_id=recording_id).exists()
    page.goto(f"/recordings/{recording_id}/")
    assert page.locator(".transcript-text").inner_text() == Transcript.objects.get(recording_id=recording_id).text
    assert Recording.objects.filter(recording_id=recording_id).count() == 1


def test_a_forged_callback_changes_nothing(live_server, sender, fake_vobiz):
    (recording_id,) = fake_vobiz.account.add_recordings(1)
    response = requests.post(
        live_server.url + "/vobiz/recording-callback",
        data={"RecordingID": recording_id},
        headers={"X-Vobiz-Signature-V3": "forged", "X-Vobiz-Signature-V3-Nonce": "1"},
        timeout=5,
    )
    assert response.status_code == 403
    assert not Recording.objects.filter(recording_id=recording_id).exists()
