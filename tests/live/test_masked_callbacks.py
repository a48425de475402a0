"""A transcription callback over HTTP is masked before its transaction, error field included, and any
Unicode it brings is answered, never a 500."""

from urllib.parse import quote_plus, urlencode

import pytest
from django.db import connection

from recordings.live import masking, transcripts
from recordings.live.callbacks import MAX_BODY_BYTES
from recordings.models import Transcript
from tests.factories import make_recording
from tests.live.test_callbacks import TRANSCRIPTION_PATH, callbacks_on, post, signed_headers  # noqa: F401

pytestmark = pytest.mark.django_db


def send(client, **fields):
    body = {"recording_id": "rec-1", "call_uuid": "call-1", **fields}
    return post(client, TRANSCRIPTION_PATH, body, signed_headers(TRANSCRIPTION_PATH))


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 111¹ thanks",  # a superscript digit
        "card ④①①① ①①①① ①①①① ①①①① thanks",  # circled digits
        "card ４１１１ １１１１ １１１１ １１１１ thanks",  # full-width digits
        "card ४१११ ११११ ११११ ११११ thanks",  # Devanagari digits
    ],
)
def test_digits_of_any_form_are_masked_not_refused(client, callbacks_on, text):  # noqa: F811
    response = send(client, transcription=text)
    assert response.status_code == 200
    transcript = Transcript.objects.get(recording_id="rec-1")
    assert transcript.text == "card [card number] thanks"
    assert transcript.masked_kinds == ["card number"]


def test_the_error_field_is_masked_too(client, callbacks_on):  # noqa: F811
    response = send(client, error="could not transcribe: 'my aadhaar is 2341 2341 2346'")
    assert response.status_code == 200
    transcript = Transcript.objects.get(recording_id="rec-1")
    assert "2341" not in transcript.error and "[Aadhaar number]" in transcript.error
    assert transcript.masked and transcript.masked_kinds == ["Aadhaar number"]


@pytest.mark.django_db(transaction=True)
def test_masking_runs_before_the_transaction_opens(client, callbacks_on, monkeypatch):  # noqa: F811
    in_transaction = []
    real_mask = masking.mask

    def watched(text):
        in_transaction.append(connection.in_atomic_block)
        return real_mask(text)

    monkeypatch.setattr(transcripts, "mask", watched)
    make_recording(recording_id="rec-1")  # known: no fetch, whose give-up would drop the transcript
    assert send(client, transcription="the CVV is 737").status_code == 200
    assert in_transaction == [False, False]  # the text and the error, both outside
    assert Transcript.objects.get(recording_id="rec-1").text == "the CVV is [security code]"


def test_a_body_at_the_size_limit_is_masked_and_stored(client, callbacks_on):  # noqa: F811
    sentence = "my card is 4111 – 1111 um 1111 1111 and 123 is my CVV, order 55012 came on 3 March. "
    text = sentence * (MAX_BODY_BYTES // len(quote_plus(sentence)) - 1)
    assert MAX_BODY_BYTES - 1000 < len(urlencode({"recording_id": "rec-1", "transcription": text})) <= MAX_BODY_BYTES
    assert send(client, transcription=text).status_code == 200
    stored = Transcript.objects.get(recording_id="rec-1").text
    assert "4111" not in stored and "123" not in stored and stored.count("[card number]") == text.count("4111")
    assert "order 55012 came on 3 March" in stored
