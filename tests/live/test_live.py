"""The table's question while it is open: how many recordings arrived since it was drawn."""

import re
from datetime import timedelta

import pytest

from recordings.browsing import transcript_search
from recordings.models import Recording
from tests.factories import BASE_TIME, make_recording, make_recordings, transcribe

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
    monkeypatch.setattr(transcript_search, "RANKED_MATCHES", ranked_matches)
    seen = make_recording()
    transcribe(seen.recording_id, "a refund please")
    for text in ("another refund", "my delivery is late"):
        transcribe(make_recording().recording_id, text)
    assert support_client.get("/new", {"since": seen.pk, "transcript": "refunds"}).json() == {"count": 1}


def drawn(client, params):
    """What the table page gives live.js: the latest row id stored and the view's first row's."""
    html = client.get("/", params).content.decode()
    since = re.search(r'data-since="(\d+)"', html)[1]
    first = re.search(r'data-first="(\d*)"', html)[1]
    return {**params, "since": since, "first": first}


def test_the_page_names_the_views_first_row_on_every_page(support_client):
    make_recordings(30)
    newest = Recording.objects.order_by("-add_time")[0]
    restored = make_recording(add_time=(BASE_TIME - timedelta(days=400)).isoformat())
    assert drawn(support_client, {})["first"] == str(newest.pk)
    assert drawn(support_client, {"page": 2})["first"] == str(newest.pk)  # what "show" puts new ones above
    assert drawn(support_client, {"sort": "add_time"})["first"] == str(restored.pk)
    assert drawn(support_client, {"sort": "add_time", "page": 2})["first"] == str(restored.pk)
    assert drawn(support_client, {"recording_type": "trunk"})["first"] == ""  # an empty view: all is new


def test_a_recording_stored_late_with_an_old_time_is_not_new(support_client):
    make_recordings(5)
    asked = drawn(support_client, {})
    make_recording(add_time=(BASE_TIME - timedelta(days=30)).isoformat())  # a restore, or a sync filling in
    assert support_client.get("/new", asked).json() == {"count": 0}
    make_recording(add_time=(BASE_TIME + timedelta(minutes=1)).isoformat())  # a call that just ended
    assert support_client.get("/new", asked).json() == {"count": 1}


def rows_shown_above(client, params, first):
    """The rows the reloaded first page (100 rows) shows above row `first`."""
    records = client.get("/", {**params, "per_page": 100}).context["table"].page_records
    pks = [record.pk for record in records]
    return pks[: pks.index(first)]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"sort": "add_time"},
        {"sort": "-recording_duration_ms"},
        {"sort": "recording_duration_ms"},
        {"sort": "from_number"},
        {"transcript": "refund"},  # ranked best match first
        {"transcript": "refund", "sort": "-add_time"},
    ],
)
def test_counts_what_the_reloaded_view_shows_above_its_first_row(support_client, params):
    for n, seconds in enumerate((65, 300, 20, 120)):
        recording = make_recording(recording_duration_ms=f"{seconds * 1000}.0", from_number=f"+91987650000{n}")
        transcribe(recording.recording_id, "a refund " * (n + 1))
    asked = drawn(support_client, params)
    first, since = int(asked["first"]), int(asked["since"])
    arrivals = [  # (add_time, duration in s, from_number, times "refund" is said)
        ((BASE_TIME + timedelta(minutes=5)).isoformat(), 10, "+919876500009", 4),  # a call just ended
        ((BASE_TIME - timedelta(days=90)).isoformat(), 900, "+919876400000", 1),  # a restore
        (None, 200, "+919876500005", 2),  # incomplete: no add_time
        ((BASE_TIME - timedelta(minutes=2, seconds=30)).isoformat(), 100, "+919876500001", 9),  # filled in
    ]
    for add_time, seconds, number, refunds in arrivals:
        recording = make_recording(add_time=add_time, recording_duration_ms=f"{seconds * 1000}.0", from_number=number)
        transcribe(recording.recording_id, "a refund " * refunds)
    above = [pk for pk in rows_shown_above(support_client, params, first) if pk > since]
    assert 0 < len(above) < len(arrivals)  # some come above, some further down
    assert support_client.get("/new", asked).json() == {"count": len(above)}


def test_a_first_row_gone_from_the_view_counts_every_arrival(support_client):
    make_recordings(3)
    asked = drawn(support_client, {})
    Recording.objects.filter(pk=asked["first"]).update(gone_at=BASE_TIME)
    make_recording(add_time=(BASE_TIME - timedelta(days=30)).isoformat())
    assert support_client.get("/new", asked).json() == {"count": 1}


@pytest.mark.parametrize(
    "params",
    [{"since": ""}, {"since": "abc"}, {"since": "1e3"}, {"since": "1", "first": "x"}, {"since": "1", "first": "1.5"}],
)
def test_a_bad_since_or_first_is_a_clear_400(support_client, params):
    response = support_client.get("/new", params)
    assert response.status_code == 400
    assert "since" in response.json()["error"]


def test_needs_a_login(client):
    assert client.get("/new", {"since": 0}).status_code == 302
