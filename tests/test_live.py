"""The table's question while it is open: how many recordings arrived since it was drawn."""

import pytest

from recordings import transcripts
from recordings.models import Recording

from .factories import make_recording, transcribe

pytestmark = pytest.mark.django_db


def test_the_table_page_says_which_recording_it_showed_last(support_client):
    make_recording()
    newest = make_recording()
    html = support_client.get("/").content.decode()
    assert f'data-since="{newest.pk}"' in html
    assert "js/live.js" in html


def test_counts_what_came_after_in_the_same_view(support_client):
    seen = make_recording()
    make_recording(recording_type="conference")
    make_recording(recording_type="call")
    assert support_client.get("/new", {"since": seen.pk}).json() == {"count": 2}
    assert support_client.get("/new", {"since": seen.pk, "recording_type": "conference"}).json() == {"count": 1}
    newest = Recording.objects.order_by("-pk").first()
    assert support_client.get("/new", {"since": newest.pk}).json() == {"count": 0}


@pytest.mark.parametrize("ranked_matches", [5000, 0])  # ranked best first, or too common to rank
def test_counts_what_came_after_in_a_transcript_search(support_client, monkeypatch, ranked_matches):
    monkeypatch.setattr(transcripts, "RANKED_MATCHES", ranked_matches)
    seen = make_recording()
    transcribe(seen.recording_id, "a refund please")
    for text in ("another refund", "my delivery is late"):
        transcribe(make_recording().recording_id, text)
    assert support_client.get("/new", {"since": seen.pk, "transcript": "refunds"}).json() == {"count": 1}


@pytest.mark.parametrize("since", ["", "abc", "1e3"])
def test_a_bad_since_is_a_clear_400(support_client, since):
    response = support_client.get("/new", {"since": since})
    assert response.status_code == 400
    assert "since" in response.json()["error"]


def test_needs_a_login(client):
    assert client.get("/new", {"since": 0}).status_code == 302
