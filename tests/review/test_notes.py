"""Notes pinned to a moment of a recording."""

import json

import pytest
from django.test import Client

from recordings.models import AuditEvent, MomentNote
from tests.factories import make_recording

pytestmark = pytest.mark.django_db


def add(client, recording, json_reply=True, **data):
    headers = {"HTTP_ACCEPT": "application/json"} if json_reply else {}
    return client.post(f"/recordings/{recording.recording_id}/notes", data, **headers)


def test_a_note_is_pinned_to_its_moment_and_logged(auditor_client, auditor_user):
    recording = make_recording()
    response = add(auditor_client, recording, at="1:02.5", text="Agent promises a refund")
    assert response.status_code == 201
    body = json.loads(response.content)
    assert body["at"] == 62.5
    assert "Agent promises a refund" in body["html"] and 'data-moment="62.500"' in body["html"]
    note = MomentNote.objects.get()
    assert (note.recording, note.at_ms, note.author, note.username) == (recording, 62500, auditor_user, "ada")
    event = AuditEvent.objects.get()
    assert (event.action, event.recording, event.note) == ("note", recording, "at 1:02: Agent promises a refund")


def test_without_javascript_the_form_posts_and_comes_back_to_the_notes(auditor_client):
    recording = make_recording()
    response = add(auditor_client, recording, json_reply=False, at="12", text="Greeting")
    assert response.status_code == 302
    assert response["Location"] == f"/recordings/{recording.recording_id}/#notes"
    assert MomentNote.objects.get().at_ms == 12000


@pytest.mark.parametrize(
    "data, message",
    [
        ({"at": "soon", "text": "x"}, "Write the moment as seconds"),
        ({"at": "1:60:00:00", "text": "x"}, "Write the moment as seconds"),
        ({"at": "-5", "text": "x"}, "Write the moment as seconds"),
        ({"at": "9:00", "text": "x"}, "past the end of the recording"),
        ({"at": "", "text": "x"}, "at which moment"),
        ({"at": "3", "text": "   "}, "cannot be empty"),
        ({"at": "3", "text": "a\x00b"}, "Null characters are not allowed"),
        ({"at": "3", "text": "x" * 2001}, "at most 2000 characters"),
    ],
)
def test_bad_input_is_refused_with_a_clear_reason_and_nothing_is_stored(auditor_client, data, message):
    recording = make_recording(recording_duration_ms="65000")
    response = add(auditor_client, recording, **data)
    assert response.status_code == 400
    assert message in json.loads(response.content)["error"]
    page = add(auditor_client, recording, json_reply=False, **data)
    assert page.status_code == 302
    assert message in auditor_client.get(page["Location"]).content.decode()
    assert not MomentNote.objects.exists() and not AuditEvent.objects.exists()


def test_a_recording_of_unknown_length_takes_any_moment_within_a_day(auditor_client):
    recording = make_recording(recording_duration_ms=None)
    assert add(auditor_client, recording, at="3:00:00", text="late").status_code == 201
    assert add(auditor_client, recording, at="25:00:00", text="later").status_code == 400


def test_unknown_recording_and_wrong_method(auditor_client):
    assert auditor_client.post("/recordings/nope/notes", {"at": "1", "text": "x"}).status_code == 404
    recording = make_recording()
    assert auditor_client.get(f"/recordings/{recording.recording_id}/notes").status_code == 405


def test_support_can_neither_add_nor_see_notes(support_user, auditor_client):
    support_client = Client()
    support_client.force_login(support_user)
    recording = make_recording()
    add(auditor_client, recording, at="5", text="Only for auditors")
    assert add(support_client, recording, at="6", text="mine").status_code == 403
    assert support_client.get("/notes/").status_code == 403
    for url in (f"/recordings/{recording.recording_id}/", f"/calls/{recording.call_uuid}/"):
        page = support_client.get(url).content.decode()
        assert "Only for auditors" not in page and "data-note-form" not in page
    assert "/review/" not in support_client.get("/").content.decode()
    assert MomentNote.objects.count() == 1


def test_notes_are_listed_in_time_order_on_the_recording_and_call_pages(auditor_client):
    recording = make_recording()
    sibling = make_recording(call_uuid=recording.call_uuid)
    add(auditor_client, recording, at="40", text="Second <b>thing</b>")
    add(auditor_client, recording, at="4", text="First thing")
    add(auditor_client, sibling, at="7", text="On the other recording")
    page = auditor_client.get(f"/recordings/{recording.recording_id}/").content.decode()
    assert page.index("First thing") < page.index("Second &lt;b&gt;thing&lt;/b&gt;")
    assert "On the other recording" not in page
    call_page = auditor_client.get(f"/calls/{recording.call_uuid}/").content.decode()
    assert call_page.count('class="note"') == 3
    assert f'href="/recordings/{recording.recording_id}/?t=4"' in call_page


def test_call_page_reads_every_recordings_notes_in_one_query(auditor_client, django_assert_max_num_queries):
    first = make_recording()
    for _ in range(5):
        other = make_recording(call_uuid=first.call_uuid)
        add(auditor_client, other, at="1", text="n")
    with django_assert_max_num_queries(12) as few:
        auditor_client.get(f"/calls/{first.call_uuid}/")
    assert sum("recordings_momentnote" in query["sql"] for query in few.captured_queries) == 1


def test_notes_are_found_by_their_text(auditor_client):
    recording = make_recording()
    add(auditor_client, recording, at="5", text="Customer asks for a REFUND")
    add(auditor_client, recording, at="9", text="Hold music")
    page = auditor_client.get("/notes/", {"q": "refund"}).content.decode()
    assert "Customer asks for a REFUND" in page and "Hold music" not in page
    assert f"/recordings/{recording.recording_id}/?t=5#notes" in page
    assert "Hold music" in auditor_client.get("/notes/").content.decode()
    assert "No note matches" in auditor_client.get("/notes/", {"q": "\x00%_"}).content.decode()
    assert auditor_client.get("/notes/", {"page": "x9"}).status_code in (200, 404)
