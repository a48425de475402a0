"""Transcripts on the pages, and the search of what was said."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recordings.browsing import tables, transcript_search
from recordings.browsing.transcript_search import FullText, highlighted
from recordings.models import Recording, Transcript
from tests.factories import make_recording, make_recordings, transcribe

pytestmark = pytest.mark.django_db


def shown_ids(response):
    return [row.record.recording_id for row in response.context["table"].paginated_rows]


@pytest.fixture
def transcribed():
    refund = make_recording()
    twice = make_recording()
    other = make_recording()
    transcribe(refund.recording_id, "I want a refund for the broken kettle.")
    transcribe(twice.recording_id, "Refund please. I asked for a refund last week, the refund never came.")
    transcribe(other.recording_id, "Can you change my delivery address?")
    make_recording()  # no transcript
    return refund, twice, other


def test_transcript_search_finds_stemmed_words_best_match_first(support_client, transcribed):
    refund, twice, other = transcribed
    response = support_client.get("/", {"transcript": "refunds"})
    assert response.status_code == 200
    assert shown_ids(response) == [twice.recording_id, refund.recording_id]


def test_a_ranked_search_says_so_and_highlights_each_match(support_client, transcribed):
    html = support_client.get("/", {"transcript": "refund"}).content.decode()
    assert "Best matches first." in html
    assert html.count("<mark>Refund</mark>") + html.count("<mark>refund</mark>") >= 2
    nothing = support_client.get("/", {"transcript": "refund address"}).content.decode()
    assert "Best matches first." not in nothing and "No recordings match these filters." in nothing


def test_a_ranked_search_keeps_the_other_filters(support_client, transcribed):
    """Matches are ranked before they meet their recordings: the best one, deleted or of another
    type, must still be left out, and the page still filled from the next ones."""
    refund, twice, other = transcribed
    Recording.objects.filter(pk=twice.pk).update(deleted_at=timezone.now())
    assert shown_ids(support_client.get("/", {"transcript": "refund"})) == [refund.recording_id]
    conference = make_recording(recording_type="conference")
    transcribe(conference.recording_id, "refund refund refund refund")
    assert shown_ids(support_client.get("/", {"transcript": "refund"}))[0] == conference.recording_id
    assert shown_ids(support_client.get("/", {"transcript": "refund", "recording_type": "call"})) == [
        refund.recording_id
    ]


# Matches read from the index once, or (more than READ_ONCE_MATCHES: SQLite) asked of it by each recording.
@pytest.mark.parametrize("read_once", [25_000, 2])
def test_words_too_common_to_rank_are_shown_newest_first(support_client, transcribed, monkeypatch, read_once):
    refund, twice, other = transcribed
    newer = make_recording(add_time="2026-11-30T10:00:00+00:00")
    transcribe(newer.recording_id, "a refund")
    monkeypatch.setattr(transcript_search, "RANKED_MATCHES", 2)
    monkeypatch.setattr(transcript_search, "READ_ONCE_MATCHES", read_once)
    response = support_client.get("/", {"transcript": "refunds"})
    assert shown_ids(response) == [newer.recording_id, refund.recording_id, twice.recording_id]
    html = response.content.decode()
    assert "Newest first: these words are in more than 2 transcripts" in html
    assert "<mark>refund</mark>" in html
    assert shown_ids(support_client.get("/", {"transcript": "refund kettle"})) == [refund.recording_id]


@pytest.mark.parametrize("ranked_matches", [5000, 0])  # ranked best first, or too common to rank
def test_a_search_exports_its_recordings(support_client, transcribed, monkeypatch, ranked_matches):
    refund, twice, other = transcribed
    monkeypatch.setattr(transcript_search, "RANKED_MATCHES", ranked_matches)
    response = support_client.get("/", {"transcript": "refund", "_export": "csv"})
    body = b"".join(response.streaming_content).decode()
    assert body.count("\n") == 3  # the header and the two recordings that said it
    assert refund.recording_id in body and twice.recording_id in body and other.recording_id not in body


def test_every_word_must_be_said(support_client, transcribed):
    refund, twice, other = transcribed
    assert shown_ids(support_client.get("/", {"transcript": "refund kettle"})) == [refund.recording_id]
    assert shown_ids(support_client.get("/", {"transcript": "refund address"})) == []


def test_matches_are_highlighted_and_the_rest_escaped(support_client):
    recording = make_recording()
    transcribe(recording.recording_id, 'He said <script>alert("x")</script> about the refund')
    response = support_client.get("/", {"transcript": "refund"})
    html = response.content.decode()
    assert "<mark>refund</mark>" in html
    assert "<script>alert" not in html


@pytest.mark.parametrize("ranked_matches", [5000, 0])  # ranked best first, or too common to rank
def test_a_far_page_of_a_search_still_highlights_its_rows_in_one_more_query(
    auditor_client, monkeypatch, ranked_matches
):
    monkeypatch.setattr(transcript_search, "RANKED_MATCHES", ranked_matches)
    for n, recording in enumerate(make_recordings(60)):
        transcribe(recording.recording_id, "a refund please " * (n % 7 + 1) + ("and cvv 123" if n % 2 else ""))
    page_2 = {"transcript": "refund", "page": 2}
    held = auditor_client.get("/", page_2).context["table"].page_records[0]
    auditor_client.post(f"/recordings/{held.recording_id}/hold", {"reason": "a dispute"})
    with CaptureQueriesContext(connection) as near:
        expected = auditor_client.get("/", page_2)
    monkeypatch.setattr(tables, "INDEX_ONLY_OFFSET", 0)  # page 2 read ids first, as pages past 1,000 rows are
    with CaptureQueriesContext(connection) as far:
        response = auditor_client.get("/", page_2)
    records = response.context["table"].page_records
    assert [r.pk for r in records] == [r.pk for r in expected.context["table"].page_records] and len(records) == 25
    assert all("\ue000refund\ue001" in record.matched.snippet for record in records)
    html = response.content.decode()
    assert html.count("<mark>refund</mark>") >= 25
    assert 'class="badge badge-masked"' in html and 'class="badge badge-held"' in row_of(html, held.recording_id)
    assert len(far) <= len(near) + 1  # the ids, then the rows by id and their highlights


def test_a_snippet_is_escaped_but_its_marks():
    assert (
        highlighted('<b onclick="x">\ue000refund\ue001</b>')
        == "&lt;b onclick=&quot;x&quot;&gt;<mark>refund</mark>&lt;/b&gt;"
    )


@pytest.mark.parametrize(
    "query", ['"', "refund*", "NEAR(a b)", "a OR b", "-refund", "'; DROP TABLE x; --", "ünïcode", "%_"]
)
def test_query_syntax_is_only_words(support_client, transcribed, query):
    response = support_client.get("/", {"transcript": query})
    assert response.status_code == 200


def test_a_transcript_that_came_first_attaches_when_its_recording_arrives(support_client):
    transcribe("late-recording-1", "the parcel arrived damaged")
    assert shown_ids(support_client.get("/", {"transcript": "parcel"})) == []
    recording = make_recording(recording_id="late-recording-1")
    assert shown_ids(support_client.get("/", {"transcript": "parcel"})) == [recording.recording_id]
    page = support_client.get(f"/recordings/{recording.recording_id}/")
    assert "the parcel arrived damaged" in page.content.decode()


def test_masked_numbers_are_neither_stored_nor_searchable(support_client):
    recording = make_recording()
    transcribe(recording.recording_id, "my card is 4111 1111 1111 1111 and cvv 123")
    stored = Transcript.objects.get(recording_id=recording.recording_id)
    assert "4111" not in stored.text and "123" not in stored.text
    assert shown_ids(support_client.get("/", {"transcript": "4111"})) == []
    assert shown_ids(support_client.get("/", {"transcript": "card"})) == [recording.recording_id]


def test_auditors_find_recordings_whose_transcript_was_masked(auditor_client, support_user):
    masked = make_recording()
    clean = make_recording()
    transcribe(masked.recording_id, "the security code is 1 2 3")
    transcribe(clean.recording_id, "nothing to hide here")
    assert shown_ids(auditor_client.get("/", {"masked": "masked"})) == [masked.recording_id]
    # Support staff have no such filter: the parameter is ignored.
    support_client = Client()
    support_client.force_login(support_user)
    assert len(shown_ids(support_client.get("/", {"masked": "masked"}))) == 2


def row_of(html, recording_id):
    """The table row (<tr>…</tr>) that links `recording_id`."""
    return next(row for row in html.split("<tr>") if f"/recordings/{recording_id}/" in row)


def test_an_auditors_rows_mark_masked_transcripts_in_the_pages_own_query(auditor_client, support_user):
    masked, clean, untranscribed = make_recording(), make_recording(), make_recording()
    transcribe(masked.recording_id, "the security code is 1 2 3")
    transcribe(clean.recording_id, "nothing to hide here")
    with CaptureQueriesContext(connection) as first:
        html = auditor_client.get("/").content.decode()
    assert 'class="badge badge-masked"' in row_of(html, masked.recording_id)
    for recording in (clean, untranscribed):
        assert "badge-masked" not in row_of(html, recording.recording_id)
    for recording in make_recordings(5):
        transcribe(recording.recording_id, "my PAN is ABCDE1234F")
    with CaptureQueriesContext(connection) as more:
        html = auditor_client.get("/").content.decode()
    assert html.count('class="badge badge-masked"') == 6
    assert len(more) == len(first)  # no query per row
    # Support staff see no trace of what was masked.
    support_client = Client()
    support_client.force_login(support_user)
    assert "badge-masked" not in support_client.get("/").content.decode()


def test_recording_and_call_pages_show_the_transcript(support_client):
    first = make_recording(call_uuid="call-with-words")
    second = make_recording(call_uuid="call-with-words")
    transcribe(first.recording_id, "hello and welcome")
    Transcript.objects.create(
        recording_id=second.recording_id,
        error="Recording duration too long for transcription",
        received_at=timezone.now(),
        updated_at=timezone.now(),
    )
    detail = support_client.get(f"/recordings/{first.recording_id}/").content.decode()
    assert "hello and welcome" in detail
    call = support_client.get("/calls/call-with-words/").content.decode()
    assert "hello and welcome" in call
    assert "Recording duration too long for transcription" in call
    untranscribed = make_recording()
    assert "No transcript yet" in support_client.get(f"/recordings/{untranscribed.recording_id}/").content.decode()


def test_a_masked_transcript_says_so(support_client):
    recording = make_recording()
    transcribe(recording.recording_id, "PAN is ABCDE1234F")
    page = support_client.get(f"/recordings/{recording.recording_id}/").content.decode()
    assert "ABCDE1234F" not in page
    assert "Payment or ID data was removed" in page and "PAN" in page


def test_a_sorted_transcript_search_keeps_the_sort(support_client, transcribed):
    refund, twice, other = transcribed
    response = support_client.get("/", {"transcript": "refund", "sort": "-add_time"})
    assert shown_ids(response) == [refund.recording_id, twice.recording_id]  # newest first, not best first


def test_a_ranked_search_is_counted_exactly_at_once(support_client):
    for recording in make_recordings(30):
        transcribe(recording.recording_id, "a refund please")
    summary = support_client.get("/", {"transcript": "refund"}).context["summary"]
    assert (summary.count, summary.exact) == (30, True)


def test_a_search_too_common_to_rank_counts_its_page_then_all(support_client, monkeypatch):
    for recording in make_recordings(30):
        transcribe(recording.recording_id, "a refund please")
    monkeypatch.setattr(transcript_search, "RANKED_MATCHES", 10)
    summary = support_client.get("/", {"transcript": "refund"}).context["summary"]
    assert (summary.count, summary.exact) == (25, False)  # the page's own rows, each checked
    assert support_client.get("/count", {"transcript": "refund"}).json()["count"] == 30
    assert support_client.get("/").context["summary"].exact  # other views count to the usual bound


def probes(client, words):
    """How many times a search asked the index whether the words are too common to rank."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/", {"transcript": words})
    limit = f"LIMIT {FullText([words]).matches_counted}"
    asked = [q["sql"] for q in captured if limit in q["sql"]]
    return shown_ids(response), sum("SUM(" not in sql for sql in asked)  # not the ranked search's own count


def test_whether_words_can_be_ranked_is_asked_once_for_a_while(support_client, transcribed):
    refund, twice, other = transcribed
    assert probes(support_client, "refund") == ([twice.recording_id, refund.recording_id], 1)
    assert probes(support_client, "Refund") == ([twice.recording_id, refund.recording_id], 0)  # case folds
    assert probes(support_client, "delivery") == ([other.recording_id], 1)  # other words, asked anew


def test_a_stale_answer_changes_only_the_order(support_client, transcribed, monkeypatch):
    """Words that became too common to rank since they were last searched are still ranked, for a
    while: every match is shown and counted all the same."""
    refund, twice, other = transcribed
    monkeypatch.setattr(transcript_search, "RANKED_MATCHES", 2)
    support_client.get("/", {"transcript": "refund"})
    newer = make_recording(add_time="2026-11-30T10:00:00+00:00")
    transcribe(newer.recording_id, "a refund")
    response = support_client.get("/", {"transcript": "refund"})
    assert set(shown_ids(response)) == {refund.recording_id, twice.recording_id, newer.recording_id}
    assert (response.context["summary"].count, response.context["summary"].exact) == (3, True)
    assert "Best matches first." in response.content.decode()
