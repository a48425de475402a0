"""Auditors filter the recordings table by what masking took out of their transcripts."""

import pytest

from recordings.models import MASKED_KINDS
from tests.factories import make_recording, transcribe

pytestmark = pytest.mark.django_db


def shown_ids(response):
    return [row.record.recording_id for row in response.context["table"].paginated_rows]


@pytest.fixture
def transcribed():
    card = make_recording()
    code_and_otp = make_recording()
    clean = make_recording()
    transcribe(card.recording_id, "my debit card is 4111 1111 1111 1111")
    transcribe(code_and_otp.recording_id, "the CVV is 737 and the OTP is 482913")
    transcribe(clean.recording_id, "my order number is 123456")
    return card, code_and_otp, clean


def test_each_kind_finds_the_transcripts_it_was_masked_in(auditor_client, transcribed):
    card, code_and_otp, clean = transcribed
    assert shown_ids(auditor_client.get("/", {"masked": "card"})) == [card.recording_id]
    assert shown_ids(auditor_client.get("/", {"masked": "security_code"})) == [code_and_otp.recording_id]
    assert shown_ids(auditor_client.get("/", {"masked": "otp"})) == [code_and_otp.recording_id]
    assert shown_ids(auditor_client.get("/", {"masked": "aadhaar"})) == []


def test_masked_masked_still_means_any_kind(auditor_client, transcribed):
    card, code_and_otp, clean = transcribed
    assert sorted(shown_ids(auditor_client.get("/", {"masked": "masked"}))) == sorted(
        [card.recording_id, code_and_otp.recording_id]
    )


def test_the_filter_offers_every_kind_and_refuses_others(auditor_client, transcribed):
    html = auditor_client.get("/").content.decode()
    for name in MASKED_KINDS:
        assert f'value="{name}"' in html
    assert "Card number masked" in html
    response = auditor_client.get("/", {"masked": "<b>nonsense</b>"})
    assert response.status_code == 200
    assert response.context["filter"].form.errors["masked"]
    assert "<b>nonsense</b>" not in response.content.decode()
