"""Random and hostile input at every page and form: never a 500, always shown escaped."""

import html
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from recordings.models import DeletionBatch, LegalHold, Recording
from recordings.sync.normalise import UnusableRecording, normalise
from tests.factories import api_object, make_recording

pytestmark = pytest.mark.django_db
FUZZ = hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

PARAMETERS = [
    "q",
    "call_uuid",
    "recording_type",
    "recording_format",
    "from_number",
    "to_number",
    "added_after",
    "added_before",
    "min_duration",
    "max_duration",
    "sort",
    "page",
    "per_page",
    "status",
    "review",
    "_export",
    "user",
    "action",
    "recording",
    "after",
    "before",
    "days",
    "t",
    "download",
]
hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "\x00",
            "-1",
            "1e999",
            "NaN",
            "9" * 40,
            "0001-01-01",
            "9999-12-31",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "%",
            "_",
            "\\",
            "../../etc/passwd",
            "+91",
            "csv",
            "-recording_duration_ms",
        ]
    ),
)
queries = st.dictionaries(st.one_of(st.sampled_from(PARAMETERS), st.text(max_size=10)), hostile_text, max_size=6)


@pytest.fixture
def world(settings):
    settings.VOBIZ_AUTH_ID = ""  # nothing may reach out while fuzzing
    recording = make_recording(conference_name="<img src=x onerror=alert(1)>")
    hold = LegalHold.objects.create(call_uuid="c", reason="r", placed_at=timezone.now())
    batch = DeletionBatch.objects.create(requested_at=timezone.now(), reason="r", finished_at=timezone.now())
    return recording, hold, batch


def page_urls(recording, batch):
    return [
        "/",
        "/audit/",
        "/usage/",
        "/sync/",
        f"/recordings/{recording.recording_id}/",
        f"/calls/{recording.call_uuid}/",
        f"/deletions/{batch.pk}/",
        f"/recordings/{recording.recording_id}/delete",
    ]


@FUZZ
@given(query=queries)
def test_random_query_strings_never_break_a_page(auditor_client, world, query):
    recording, _, batch = world
    for url in page_urls(recording, batch):
        response = auditor_client.get(url, query)
        assert response.status_code in (200, 302), (url, query, response.status_code)
        if response.streaming:
            b"".join(response.streaming_content)


@FUZZ
@given(segment=st.one_of(st.text(min_size=1, max_size=200), st.sampled_from(["%00", "99999999999999999999999"])))
def test_random_ids_in_paths_are_a_404_not_a_500(auditor_client, world, segment):
    segment = quote(segment, safe="%")  # as a browser sends it: a path segment, percent-encoded
    for template in ["/recordings/{}/", "/recordings/{}/audio", "/calls/{}/", "/deletions/{}/", "/holds/{}/lift"]:
        url = template.format(segment)
        response = auditor_client.post(url, {"reason": "x"}) if "lift" in template else auditor_client.get(url)
        assert response.status_code in (200, 302, 403, 404, 405), (url, response.status_code)


form_values = st.dictionaries(
    st.sampled_from(["state", "note", "reason", "selected", "scope", "filter_query", "expected_count", "confirm"]),
    hostile_text,
    max_size=6,
)


@FUZZ
@given(data=form_values)
def test_random_form_posts_never_break_an_action(auditor_client, world, data):
    recording, hold, batch = world
    for url in [
        f"/recordings/{recording.recording_id}/review",
        f"/recordings/{recording.recording_id}/hold",
        f"/recordings/{recording.recording_id}/delete",
        f"/calls/{recording.call_uuid}/hold",
        f"/holds/{hold.pk}/lift",
        "/bulk/delete",
        "/recordings/download.zip",
        f"/deletions/{batch.pk}/retry",
    ]:
        response = auditor_client.post(url, data)
        assert response.status_code in (200, 302, 404), (url, data, response.status_code)
        if response.streaming:
            b"".join(response.streaming_content)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=5,
)
FIELDS = list(api_object().keys())


@FUZZ
@given(overrides=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6))
@example(overrides={"recording_id": "?"})
def test_api_objects_of_any_shape_are_stored_safely_or_skipped_and_always_shown_escaped(support_client, overrides):
    obj = {**api_object(), **overrides}
    try:
        fields = normalise(obj)
    except UnusableRecording as reason:
        assert str(reason)
        return
    now = timezone.now()
    Recording.objects.filter(recording_id=fields["recording_id"]).delete()
    recording = Recording.objects.create(**fields, first_synced_at=now, last_synced_at=now)
    # Reversed, as the pages link to it: an id such as "?" is written %3F in a path.
    for url in ["/", reverse("recordings:detail", args=[recording.recording_id])]:
        response = support_client.get(url, {"q": recording.recording_id} if url == "/" else {})
        assert response.status_code == 200
        content = response.content.decode()
        for value in (recording.from_number, recording.conference_name, recording.to_number):
            if "<" in value:
                assert value not in content and html.escape(value) in content
